//! `POST /v1/posts` (and the old `POST /image/upload`): a post from one
//! streamed image and a caption.

use std::time::Duration;

use axum::extract::{FromRequest, Multipart, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use imagegram_blobstore::keys;
use imagegram_eventlog::{Position, Record};
use imagegram_readstore::PostStatus;
use imagegram_schemas::{encode, ids, now_us, topics, Event, EventMeta, UploadRequested};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::User;
use crate::consistency;
use crate::idempotency::{self, Guarded, Stored};
use crate::notifications::{Notice, Subscription};
use crate::server::AppState;
use crate::upload_stream::{drain, store_field, text_field, StoredImage};
use crate::views::{timestamp, PostJson};
use crate::Problem;

pub const MAX_CAPTION_CHARS: usize = 2_200;
pub(crate) const MAX_WAIT_SECS: u64 = 60;

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
    let key = idempotency::key_of(headers)?;
    let post_id = Posting::post_id(&user, key.as_deref());
    let original_key = keys::original(post_id);
    // With a key, the bytes are staged until the key is claimed, so a
    // conflicting retry can never overwrite the original.
    let landing = match key {
        Some(_) => format!("staging/{}", Uuid::new_v4().simple()),
        None => original_key.clone(),
    };
    let received = receive(&state, &mut multipart, &landing, file_part).await;
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
    finish(state, posting, wait).await
}

/// An image stored at `landing`, to become a post.
pub struct Posting {
    pub user: String,
    pub key: Option<String>,
    pub post_id: Uuid,
    pub landing: String,
    pub image: StoredImage,
    pub caption: String,
    pub filename: Option<String>,
}

impl Posting {
    /// The post id for `user`'s request with idempotency `key`, if any.
    pub fn post_id(user: &str, key: Option<&str>) -> Uuid {
        key.map(|k| ids::derive("post", &[user, k]))
            .unwrap_or_else(Uuid::new_v4)
    }
}

/// Moves the image into place and appends `UploadRequested`, once per
/// idempotency key: the same for a multipart upload and a finished tus one.
pub async fn finish(state: AppState, posting: Posting, wait: Option<u64>) -> Result<Response, Problem> {
    let (user, key, post_id, landing) = (
        posting.user.clone(),
        posting.key.clone(),
        posting.post_id,
        posting.landing.clone(),
    );
    let hash = idempotency::request_hash(&[posting.caption.as_bytes(), &posting.image.sha256]);
    let work = request_post(state.clone(), posting);
    let (stored, mut outcomes) = match key.as_deref() {
        None => work.await?,
        Some(key) => match idempotency::run_once(state.store.clone(), &user, key, &hash, work).await {
            Ok(Guarded::Ran(stored, outcomes)) => (stored, outcomes),
            Ok(Guarded::Answered(answer)) => {
                let _ = state.blobs.delete(&landing).await;
                return Ok(answer);
            }
            Err(problem) => {
                let _ = state.blobs.delete(&landing).await;
                return Err(problem);
            }
        },
    };
    let wait = Duration::from_secs(wait.unwrap_or(0).min(MAX_WAIT_SECS));
    if !wait.is_zero() {
        let location = stored.location.clone().unwrap_or_default();
        if let Some(answer) = await_outcome(&state, post_id, &mut outcomes, wait, &location).await {
            return Ok(answer);
        }
    }
    Ok(stored.response())
}

/// Moves a staged image to its original's place and appends
/// `UploadRequested`; the 202 to answer, and the uploader's notices from
/// just before the append (so `?wait=` misses no outcome).
async fn request_post(state: AppState, posting: Posting) -> Result<(Stored, Subscription), Problem> {
    let Posting {
        user,
        key,
        post_id,
        landing,
        image,
        caption,
        filename,
    } = posting;
    let original_key = keys::original(post_id);
    if landing != original_key {
        state
            .blobs
            .rename(&landing, &original_key)
            .await
            .map_err(|e| Problem::server(StatusCode::SERVICE_UNAVAILABLE, &e))?;
    }
    let now = now_us();
    let event = Event::UploadRequested(UploadRequested {
        meta: EventMeta {
            event_id: ids::derive("upload-requested", &[&post_id.to_string()]),
            idempotency_key: key.clone().unwrap_or_else(|| post_id.to_string()),
            actor: user.clone(),
            occurred_at: now,
            post_id,
        },
        caption: caption.clone(),
        original_key,
        format: image.format,
        byte_size: image.size as i64,
        original_filename: filename,
    });
    let outcomes = state.notifications.subscribe(&user);
    let written = append(&state, &event).await?;
    let accepted = PostJson {
        id: post_id,
        caption,
        creator: user,
        created_at: timestamp(now),
        status: PostStatus::Processing.as_str().to_owned(),
        failure_reason: None,
        comment_count: None,
        image_url: None,
        comments: None,
    };
    let stored = Stored {
        status: StatusCode::ACCEPTED.as_u16(),
        location: Some(format!("/v1/posts/{post_id}")),
        consistency: Some(consistency::token(&written)),
        body: serde_json::to_value(&accepted)
            .map_err(|e| Problem::server(StatusCode::INTERNAL_SERVER_ERROR, &e))?,
    };
    Ok((stored, outcomes))
}

/// Reads the parts: the image goes to the blob store as it arrives.
async fn receive(
    state: &AppState,
    multipart: &mut Multipart,
    landing: &str,
    file_part: &str,
) -> Result<(StoredImage, String, Option<String>), Problem> {
    let bad = |detail: String| Problem::client(StatusCode::BAD_REQUEST, "bad-multipart", detail);
    let (mut image, mut caption, mut filename) = (None, String::new(), None);
    while let Some(field) = multipart.next_field().await.map_err(|e| bad(e.body_text()))? {
        match field.name() {
            Some(name) if name == file_part && image.is_none() => {
                filename = field.file_name().map(|n| n.chars().take(255).collect());
                image = Some(store_field(&state.blobs, landing, field).await?);
            }
            Some("caption") => {
                caption = text_field(field, MAX_CAPTION_CHARS * 4, "caption").await?;
                if caption.chars().count() > MAX_CAPTION_CHARS {
                    return Err(bad(format!(
                        "the caption is longer than {MAX_CAPTION_CHARS} characters"
                    )));
                }
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

/// Appends one event; where the log put it.
pub async fn append(state: &AppState, event: &Event) -> Result<Position, Problem> {
    let bytes = encode(event).map_err(|e| Problem::server(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    let topic = topics::topic_for(event.kind()).name;
    let appended = state
        .log
        .append(topic, vec![Record::new(event.key(), bytes)])
        .await
        .map_err(|e| Problem::server(StatusCode::SERVICE_UNAVAILABLE, &e))?;
    let at = appended.first().ok_or_else(|| {
        Problem::server(
            StatusCode::INTERNAL_SERVER_ERROR,
            &"the log acknowledged no record",
        )
    })?;
    Ok(Position::new(topic, at.partition, at.offset))
}

/// With `?wait=`: 201 once published and readable, 422 if conversion failed,
/// `None` (so 202) if the wait ran out.
pub(crate) async fn await_outcome(
    state: &AppState,
    post_id: Uuid,
    outcomes: &mut Subscription,
    wait: Duration,
    location: &str,
) -> Option<Response> {
    let deadline = tokio::time::Instant::now() + wait;
    let outcome = tokio::time::timeout_at(deadline, outcomes.outcome_of(post_id))
        .await
        .ok()??;
    if let Notice::Failed { reason } = outcome {
        // The post exists, failed: name it, so the client can read it.
        let problem = Problem::client(StatusCode::UNPROCESSABLE_ENTITY, "conversion-failed", reason);
        return Some(with_location(problem.about(location).into_response(), location));
    }
    // Published in the log; answer once the read side shows it too, so the
    // client can comment at once.
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(view)) = state.store.post(post_id).await {
            if view.status == PostStatus::Published {
                let created = (StatusCode::CREATED, axum::Json(PostJson::of(&view))).into_response();
                return Some(with_location(created, location));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

fn with_location(mut response: Response, location: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
