//! [`JsonBody`]: a JSON request body, read with the route's body limit
//! and parsed, whose every rejection is a problem: 413 over the limit,
//! 400 for a body that is not the JSON the route takes (saying why).
//! A missing or other `Content-Type` is accepted, as the original API did.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::Problem;

/// The request body, parsed as `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> JsonBody<T> {
    /// `bytes` as `T`, or a 400 saying what was wrong.
    pub fn parse(bytes: &[u8]) -> Result<T, Problem> {
        serde_json::from_slice(bytes).map_err(|e| {
            Problem::client(
                StatusCode::BAD_REQUEST,
                "bad-json",
                format!("the body is not the JSON this route takes: {e}"),
            )
        })
    }
}

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| Problem::client(e.status(), "bad-body", e.body_text()))?;
        Self::parse(&bytes).map(JsonBody)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Comment {
        #[allow(dead_code)]
        content: String,
    }

    #[tokio::test]
    async fn a_body_that_is_not_the_json_expected_is_a_400_problem() {
        for body in ["", "{", "{\"content\": 3}", "[]"] {
            let request = Request::new(axum::body::Body::from(body));
            let rejected = JsonBody::<Comment>::from_request(request, &()).await.err();
            assert_eq!(rejected.map(|p| p.status), Some(400), "{body:?}");
        }
        let request = Request::new(axum::body::Body::from("{\"content\": \"hi\"}"));
        assert!(JsonBody::<Comment>::from_request(request, &()).await.is_ok());
    }
}
