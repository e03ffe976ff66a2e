//! Posts from finished uploads: automatically when the last byte arrives
//! (metadata with a `caption`), or by `POST /v1/posts {"upload_id", "caption"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use imagegram_readstore::Upload;
use serde::Deserialize;
use uuid::Uuid;

use super::{chunks, protocol};
use crate::auth::User;
use crate::idempotency::{Earlier, Guarded};
use crate::json_body::JsonBody;
use crate::post_answer;
use crate::publish::{self, Posting};
use crate::rate_limit::Action;
use crate::state::AppState;
use crate::upload_stream::{not_an_image, StoredImage};
use crate::views::PostJson;
use crate::{IngestError, Problem};
use imagegram_schemas::ImageFormat;

/// The post from a finished upload, made once (the upload's id is its
/// idempotency key): checked by magic bytes, chunks joined into one staged
/// object by the blob store, then posted like a multipart upload.
pub async fn make_post(
    state: &AppState,
    user: &str,
    upload: &Upload,
    caption: String,
) -> Result<Uuid, Problem> {
    let key = format!("tus:{}", upload.id);
    let post_id = Posting::post_id(user, Some(&key));
    if upload.post_id == Some(post_id) {
        return Ok(post_id);
    }
    let parts = state.uploads.upload_parts(upload.id).await?;
    let sources = chunks::sized_chunks(upload, &parts)
        .ok_or(IngestError::Broken("upload parts not named by offset"))?;
    let head = chunks::first_bytes(&*state.blobs, &sources, ImageFormat::SNIFF_LEN).await?;
    let format = ImageFormat::sniff(&head).ok_or_else(not_an_image)?;
    let landing = format!("staging/{}", Uuid::new_v4().simple());
    let size = state.blobs.compose(&sources, &landing).await?;
    let image = StoredImage {
        format,
        size,
        sha256: Some(chunks::identity(&sources)),
    };
    let filename = protocol::text_value(&protocol::parse_metadata(&upload.metadata)?, "filename")?;
    let posting = Posting {
        user: user.to_owned(),
        key: Some(key),
        post_id,
        landing,
        image,
        caption,
        filename,
    };
    match publish::publish_post(state, posting).await? {
        Guarded::Ran(..) | Guarded::Earlier(Earlier::Replay(_)) => {}
        Guarded::Earlier(Earlier::InFlight) => {
            return Err(Problem::client(
                StatusCode::CONFLICT,
                "upload-being-posted",
                "this upload is being posted; ask again shortly",
            ))
        }
        Guarded::Earlier(Earlier::Conflict) => {
            return Err(Problem::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "upload-used",
                "this upload was already posted differently",
            ))
        }
    }
    state.uploads.set_upload_post(upload.id, post_id).await?;
    chunks::delete_chunks(&*state.blobs, upload.id, &parts).await;
    Ok(post_id)
}

/// The body of `POST /v1/posts` for a finished resumable upload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FromUpload {
    pub upload_id: Uuid,
    #[serde(default)]
    pub caption: String,
}

/// A post from a finished tus upload (whose metadata had no caption).
pub async fn from_upload(
    state: AppState,
    User(user): User,
    wait: Option<u64>,
    body: &[u8],
) -> Result<Response, Problem> {
    state.limits.user(Action::Post, &user)?;
    let request: FromUpload = JsonBody::parse(body)?;
    publish::check_caption(&request.caption)
        .map_err(|why| Problem::client(StatusCode::BAD_REQUEST, "bad-caption", why))?;
    let upload = match state.uploads.upload(request.upload_id).await {
        Ok(Some(upload)) if upload.owner == user => upload,
        Ok(_) => {
            return Err(Problem::client(
                StatusCode::NOT_FOUND,
                "not-found",
                "no such upload",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if upload.length != Some(upload.offset) {
        return Err(Problem::client(
            StatusCode::CONFLICT,
            "upload-incomplete",
            format!("the upload has {} of {:?} bytes", upload.offset, upload.length),
        ));
    }
    // Subscribed before the event is appended, so its outcome cannot slip past.
    let mut outcomes = state.notifications.subscribe(&user);
    let post = make_post(&state, &user, &upload, request.caption).await?;
    let accepted = async {
        let body = match state.read_model.post(post).await.ok().flatten() {
            Some(view) => serde_json::to_value(PostJson::of(&view)).unwrap_or_default(),
            None => serde_json::json!({ "id": post }),
        };
        (StatusCode::ACCEPTED, axum::Json(body)).into_response()
    };
    Ok(post_answer::when_done(&state, post, &mut outcomes, wait, accepted).await)
}
