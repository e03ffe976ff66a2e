//! Reads the gateway answers from the read model: a post and its image.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use imagegram_blobstore::keys;
use imagegram_readstore::PostStatus;
use uuid::Uuid;

use crate::state::AppState;
use crate::views::PostJson;
use crate::Problem;

/// One post, whatever its status. With `Imagegram-Consistency` from a
/// write's answer, it first waits (up to 3 s) until that write shows.
#[utoipa::path(get, path = "/v1/posts/{id}", tag = "posts",
    params(("id" = Uuid, Path, description = "post id"),
        ("imagegram-consistency" = Option<String>, Header, description = "the token of a write's answer: read after it")),
    responses((status = 200, body = PostJson), (status = 404, description = "no such post", content_type = "application/problem+json")))]
pub async fn get_post(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    crate::consistency::after_requested(&state, &headers).await;
    match state.read_model.post(id).await? {
        Some(view) => Ok(axum::Json(PostJson::of(&view)).into_response()),
        None => Err(Problem::client(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such post",
        )),
    }
}

/// The served JPEG of a published post; never the original.
#[utoipa::path(get, path = "/v1/images/{file}", tag = "posts",
    params(("file" = String, Path, description = "`{post id}.jpg`")),
    responses((status = 200, content_type = "image/jpeg", description = "the 600x600 JPEG"),
        (status = 304, description = "not modified"), (status = 404, description = "no published post", content_type = "application/problem+json")))]
pub async fn get_image(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let not_found = || {
        Problem::client(
            StatusCode::NOT_FOUND,
            "not-found",
            "no published image by that name",
        )
    };
    let id = file
        .strip_suffix(".jpg")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(not_found)?;
    let view = state.read_model.post(id).await?.ok_or_else(not_found)?;
    if view.status != PostStatus::Published {
        return Err(not_found());
    }
    // A post's image never changes once published: its id is its version.
    let etag = format!("\"{}\"", id.simple());
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let bytes = state.blobs.get(&keys::image(id)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg".to_owned()),
            (header::ETAG, etag),
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_owned(),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}
