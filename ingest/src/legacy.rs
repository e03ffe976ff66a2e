//! The original system's write routes, kept for existing clients. They take
//! the same token and do exactly what their current counterparts do.

use axum::body::Bytes;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::User;
use crate::server::AppState;
use crate::Problem;

/// Old upload: multipart with a file part `file` (and an optional `caption`).
#[utoipa::path(post, path = "/image/upload", tag = "legacy",
    request_body(content_type = "multipart/form-data", description = "parts: file, caption"),
    responses((status = 202, body = crate::views::PostJson)), security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    user: User,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, Problem> {
    crate::posts::create(state, user, None, &headers, multipart, "file").await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OldComment {
    pub image_id: Uuid,
    pub comment: String,
}

/// Old comment: `{"image_id", "comment"}`.
#[utoipa::path(post, path = "/comment", tag = "legacy", request_body = OldComment,
    responses((status = 201, body = crate::views::CommentJson)), security(("bearer" = [])))]
pub async fn comment(
    State(state): State<AppState>,
    user: User,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: OldComment = serde_json::from_slice(&body).map_err(|e| {
        Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-json",
            format!("expected {{\"image_id\", \"comment\"}}: {e}"),
        )
    })?;
    crate::comments::add(state, user, request.image_id, &request.comment, &headers).await
}
