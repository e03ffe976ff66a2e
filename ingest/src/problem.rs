//! RFC 9457 problem details: every error answer is `application/problem+json`.
//!
//! Client errors (4xx) say what was wrong and log at debug; server errors
//! (5xx) log the cause at error level and tell the client only that it
//! failed, with an id to quote, never the internals.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    /// A client error: the detail is shown to the client.
    pub fn client(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        let problem = Problem {
            kind: format!("https://imagegram.dev/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Client error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
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
            title: status.canonical_reason().unwrap_or("Server error").to_owned(),
            status: status.as_u16(),
            detail: format!("the request could not be completed; incident {incident}"),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response()
    }
}
