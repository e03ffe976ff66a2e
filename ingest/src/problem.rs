//! RFC 9457 problem details: every error answer is `application/problem+json`.
//!
//! Client errors (4xx) say what was wrong and log at debug; server errors
//! (5xx) log the cause at error level and tell the client only that it
//! failed, with an id to quote, never the internals.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::IngestError;

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// The resource this problem is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Header fields for the answer: `Retry-After` when a retry can help,
    /// rate-limit fields.
    #[serde(skip)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Problem {
    /// A client error: the detail is shown to the client.
    pub fn client(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        let problem = Problem {
            kind: format!("https://imagegram.dev/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Client error"),
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            headers: Vec::new(),
        };
        tracing::debug!(status = problem.status, detail = %problem.detail, "client error");
        problem
    }

    /// A server error: `cause` is logged, the client sees only an incident id.
    pub fn server(status: StatusCode, cause: &dyn std::fmt::Display) -> Self {
        let incident = uuid::Uuid::new_v4();
        tracing::error!(status = status.as_u16(), %incident, error = %cause, "request failed");
        Problem {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Server error"),
            status: status.as_u16(),
            detail: format!("the request could not be completed; incident {incident}"),
            instance: None,
            headers: Vec::new(),
        }
    }

    /// The same problem, to retry after `seconds` (`Retry-After`).
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.headers
            .push((header::RETRY_AFTER, HeaderValue::from(seconds)));
        self
    }

    /// The seconds of its `Retry-After`, if it has one.
    pub fn retry_after_secs(&self) -> Option<u32> {
        self.headers
            .iter()
            .find(|(name, _)| name == header::RETRY_AFTER)
            .and_then(|(_, value)| value.to_str().ok()?.parse().ok())
    }

    /// The same problem, about the resource at `path`.
    pub fn about(mut self, path: &str) -> Self {
        self.instance = Some(path.to_owned());
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// A failure of the gateway's own, answered without its internals: 503
/// with `Retry-After` when a retry can help, else 500.
impl From<IngestError> for Problem {
    fn from(e: IngestError) -> Problem {
        if e.is_transient() {
            Problem::server(StatusCode::SERVICE_UNAVAILABLE, &e).retry_after(1)
        } else {
            Problem::server(StatusCode::INTERNAL_SERVER_ERROR, &e)
        }
    }
}

/// Each error a handler meets answers through [`IngestError`], so `?`
/// is the whole mapping.
macro_rules! problem_via_ingest_error {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for Problem {
            fn from(e: $error) -> Problem {
                IngestError::from(e).into()
            }
        })*
    };
}

problem_via_ingest_error!(
    imagegram_eventlog::LogError,
    imagegram_blobstore::BlobError,
    imagegram_readstore::StoreError,
    imagegram_schemas::SchemaError,
    serde_json::Error,
    imagegram_projections::ProjectionError,
    tokio::task::JoinError,
    imagegram_platform::PlatformError,
    imagegram_processors::ProcessorError,
);

const PROBLEM_JSON: &str = "application/problem+json";

/// Any error answer that is not a problem yet becomes one, keeping its
/// status and headers (`Allow` on a 405, say): a route that does not
/// exist, a method a route does not take, an extractor's rejection, a body
/// over its limit. A client error keeps its text as the detail.
pub async fn as_problem(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    let reason = status.canonical_reason().unwrap_or("Error");
    let problem = if status.is_client_error() {
        let slug = reason.to_ascii_lowercase().replace([' ', '\''], "-");
        Problem::client(status, &slug, text.unwrap_or_else(|| reason.to_owned()))
    } else {
        Problem::server(status, &text.as_deref().unwrap_or(reason))
    };
    let answer = problem.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    Response::from_parts(parts, answer.into_body())
}

/// Every path no route takes.
pub async fn no_such_route() -> Problem {
    Problem::client(StatusCode::NOT_FOUND, "not-found", "no such route")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_plain_error_becomes_a_problem_with_its_status_and_headers() {
        let plain = (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET")], "no").into_response();
        let answer = as_problem(plain).await;
        assert_eq!(answer.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer.headers()[header::ALLOW], "GET");
        assert_eq!(answer.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = axum::body::to_bytes(answer.into_body(), 4096)
            .await
            .unwrap_or_default();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(problem["status"], 405);
        assert_eq!(problem["detail"], "no");
        assert_eq!(
            problem["type"],
            "https://imagegram.dev/problems/method-not-allowed"
        );
    }

    #[tokio::test]
    async fn an_outage_is_a_503_to_retry_that_names_an_incident_not_the_cause() {
        let cause = imagegram_blobstore::BlobError::S3 {
            context: "dispatch failure: connection refused to 10.0.0.7".into(),
            transient: true,
            source: None,
        };
        let answer = Problem::from(cause).into_response();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.headers()[header::RETRY_AFTER], "1");
        let body = axum::body::to_bytes(answer.into_body(), 4096)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("incident"), "{text}");
        assert!(!text.contains("10.0.0.7"), "{text}");
        let bug = Problem::from(IngestError::Broken("the log acknowledged no record"));
        assert_eq!((bug.status, bug.retry_after_secs()), (500, None));
        assert!(!bug.detail.contains("acknowledged"));
    }

    #[tokio::test]
    async fn successes_and_problems_pass_untouched() {
        let ok = as_problem((StatusCode::OK, "fine").into_response()).await;
        assert_eq!(ok.status(), StatusCode::OK);
        let problem = Problem::client(StatusCode::CONFLICT, "x", "y");
        let answer = as_problem(problem.clone().into_response()).await;
        let body = axum::body::to_bytes(answer.into_body(), 4096)
            .await
            .unwrap_or_default();
        assert_eq!(body, serde_json::to_vec(&problem).unwrap_or_default());
    }
}
