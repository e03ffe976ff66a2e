//! `POST /v1/posts` (and the old `POST /image/upload`): a post from one
//! streamed image and a caption.

use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use imagegram_blobstore::{keys, BlobStore};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::User;
use crate::idempotency::{self, Guarded};
use crate::post_answer;
use crate::publish::{self, Posting, MAX_CAPTION_CHARS};
use crate::quotas;
use crate::rate_limit::Action;
use crate::state::AppState;
use crate::upload_stream::{drain, store_field, text_field, StoredImage};
use crate::views::PostJson;
use crate::Problem;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct WaitQuery {
    /// Seconds (at most 60) to wait for the conversion before answering.
    pub wait: Option<u64>,
}

/// Create a post: multipart with a file part `image` and an optional text part `caption`.
#[utoipa::path(post, path = "/v1/posts", tag = "posts", params(WaitQuery),
    request_body(content_type = "multipart/form-data", description = "parts: image (png, jpeg or bmp, ≤ 100 MiB), caption (≤ 2,200 characters)"),
    responses(
        (status = 202, description = "accepted; the image is being converted", body = PostJson),
        (status = 201, description = "published (with ?wait=)", body = PostJson),
        (status = 400, description = "bad request", content_type = "application/problem+json"),
        (status = 401, description = "no valid token", content_type = "application/problem+json"),
        (status = 413, description = "image larger than 104,857,600 bytes", content_type = "application/problem+json"),
        (status = 415, description = "not a png, jpeg or bmp", content_type = "application/problem+json"),
        (status = 422, description = "conversion failed (with ?wait=), or Idempotency-Key reused with another body", content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_post(
    State(state): State<AppState>,
    user: User,
    Query(query): Query<WaitQuery>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, Problem> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
            .await
            .map_err(|e| Problem::client(StatusCode::BAD_REQUEST, "bad-body", e.to_string()))?;
        return crate::tus::posting::from_upload(state, user, query.wait, &body).await;
    }
    let multipart = Multipart::from_request(request, &state)
        .await
        .map_err(|e| Problem::client(StatusCode::BAD_REQUEST, "bad-multipart", e.body_text()))?;
    create(state, user, query.wait, &headers, multipart, "image").await
}

/// The upload itself, shared by the current and the old route.
pub async fn create(
    state: AppState,
    User(user): User,
    wait: Option<u64>,
    headers: &HeaderMap,
    mut multipart: Multipart,
    file_part: &str,
) -> Result<Response, Problem> {
    state.limits.user(Action::Post, &user)?;
    quotas::check_daily_bytes(&state, &user, 0).await?;
    let key = idempotency::key_of(headers)?;
    let post_id = Posting::post_id(&user, key.as_deref());
    let original_key = keys::original(post_id);
    // With a key, the bytes are staged until the key is claimed, so a
    // conflicting retry can never overwrite the original.
    let landing = match key {
        Some(_) => format!("staging/{}", Uuid::new_v4().simple()),
        None => original_key.clone(),
    };
    // Only a keyed request needs the image's digest (it tells a retry from
    // another request); hashing 100 MB is a sixth of an upload's CPU.
    let digest = key.is_some();
    let received = receive(&state.blobs, &mut multipart, &landing, file_part, digest).await;
    let (image, caption, filename) = match received {
        Ok(parts) => parts,
        Err(problem) => {
            drain(&mut multipart).await;
            let _ = state.blobs.delete(&landing).await;
            return Err(problem);
        }
    };
    let posting = Posting {
        user,
        key,
        post_id,
        landing,
        image,
        caption,
        filename,
    };
    answer(state, posting, wait).await
}

/// Publishes the post and answers: 202 (or, with `?wait=`, its outcome),
/// or what an earlier request with the same key came to.
async fn answer(state: AppState, posting: Posting, wait: Option<u64>) -> Result<Response, Problem> {
    let post_id = posting.post_id;
    let (stored, mut outcomes) = match publish::publish_post(&state, posting).await? {
        Guarded::Ran(stored, outcomes) => (stored, outcomes),
        Guarded::Earlier(earlier) => return Ok(earlier.into_response()),
    };
    let accepted = async { stored.response() };
    Ok(post_answer::when_done(&state, post_id, &mut outcomes, wait, accepted).await)
}

/// Reads the parts: the image goes to the blob store as it arrives.
pub(crate) async fn receive(
    blobs: &Arc<dyn BlobStore>,
    multipart: &mut Multipart,
    landing: &str,
    file_part: &str,
    digest: bool,
) -> Result<(StoredImage, String, Option<String>), Problem> {
    let bad = |detail: String| Problem::client(StatusCode::BAD_REQUEST, "bad-multipart", detail);
    let (mut image, mut caption, mut filename) = (None, String::new(), None);
    while let Some(field) = multipart.next_field().await.map_err(|e| bad(e.body_text()))? {
        match field.name() {
            Some(name) if name == file_part && image.is_none() => {
                filename = field.file_name().map(|n| n.chars().take(255).collect());
                image = Some(store_field(blobs, landing, field, digest).await?);
            }
            Some("caption") => {
                caption = text_field(field, MAX_CAPTION_CHARS * 4, "caption").await?;
                publish::check_caption(&caption).map_err(bad)?;
            }
            _ => {
                let mut field = field;
                while field.chunk().await.map_err(|e| bad(e.body_text()))?.is_some() {}
            }
        }
    }
    let image = image.ok_or_else(|| bad(format!("a file part named `{file_part}` is required")))?;
    Ok((image, caption, filename))
}
