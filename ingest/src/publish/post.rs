//! A post: the image moved into place and `UploadRequested` appended, once
//! per idempotency key; then, for `?wait=`, its outcome.

use std::time::Duration;

use axum::http::StatusCode;
use imagegram_blobstore::keys;
use imagegram_readstore::{PostStatus, PostView};
use imagegram_schemas::{ids, now_us, Event, EventMeta, UploadRequested};
use uuid::Uuid;

use super::append;
use crate::consistency;
use crate::idempotency::{self, Guarded, Stored};
use crate::notifications::{Notice, Subscription};
use crate::state::AppState;
use crate::upload_stream::StoredImage;
use crate::views::{timestamp, PostJson};
use crate::Problem;

/// The longest caption, in characters.
pub const MAX_CAPTION_CHARS: usize = 2_200;

/// Why `caption` can't be a post's caption, if it can't.
pub fn check_caption(caption: &str) -> Result<(), String> {
    if caption.chars().count() > MAX_CAPTION_CHARS {
        return Err(format!(
            "the caption is longer than {MAX_CAPTION_CHARS} characters"
        ));
    }
    Ok(())
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

/// Makes the post, once per idempotency key: the same for a multipart
/// upload and a finished tus one. When it ran, the 202 to answer and the
/// uploader's notices from just before the append; else what an earlier
/// request with the key came to (the staged image is then dropped).
pub async fn publish_post(state: &AppState, posting: Posting) -> Result<Guarded<Subscription>, Problem> {
    let (user, key, landing) = (posting.user.clone(), posting.key.clone(), posting.landing.clone());
    let hash = (posting.image.sha256)
        .map(|digest| idempotency::request_hash(&[posting.caption.as_bytes(), &digest]));
    let work = request_post(state.clone(), posting);
    let Some(key) = key else {
        let (stored, outcomes) = work.await?;
        return Ok(Guarded::Ran(stored, outcomes));
    };
    let hash = hash.ok_or(crate::IngestError::Broken(
        "a keyed upload was stored without its digest",
    ))?;
    let guarded = idempotency::run_once(state.keys.clone(), &state.keyed, &user, &key, &hash, work).await;
    if !matches!(guarded, Ok(Guarded::Ran(..))) {
        let _ = state.blobs.delete(&landing).await;
    }
    guarded
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
        state.blobs.rename(&landing, &original_key).await?;
    }
    let now = now_us();
    let event = Event::UploadRequested(UploadRequested {
        meta: EventMeta {
            event_id: ids::derive("upload-requested", &[&post_id.to_string()]),
            idempotency_key: key.clone().unwrap_or_else(|| post_id.to_string()),
            actor: user.clone(),
            occurred_at: now,
            post_id,
            request_id: crate::request_id::current(),
        },
        caption: caption.clone(),
        original_key,
        format: image.format,
        byte_size: image.size as i64,
        original_filename: filename,
    });
    let outcomes = state.notifications.subscribe(&user);
    let written = append(&state, &event).await?;
    crate::quotas::record_bytes(&state, &user, image.size).await;
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
        body: serde_json::value::to_raw_value(&accepted)?,
    };
    Ok((stored, outcomes))
}

/// What became of a post.
pub enum Outcome {
    /// Published, and the read side shows it.
    Published(PostView),
    /// Conversion failed; why, in a sentence for a person.
    Failed(String),
}

/// The outcome of `post_id` within `wait`, or `None` if it takes longer.
/// A published post is reported once the read side shows it too, so the
/// client can comment at once.
pub async fn await_outcome(
    state: &AppState,
    post_id: Uuid,
    outcomes: &mut Subscription,
    wait: Duration,
) -> Option<Outcome> {
    let deadline = tokio::time::Instant::now() + wait;
    let notice = tokio::time::timeout_at(deadline, outcomes.outcome_of(post_id))
        .await
        .ok()??;
    if let Notice::Failed { reason } = notice {
        return Some(Outcome::Failed(reason));
    }
    let mut applied = crate::consistency::AppliedSignal::of(&*state.read_model);
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(view)) = state.read_model.post(post_id).await {
            if view.status == PostStatus::Published {
                return Some(Outcome::Published(view));
            }
        }
        applied.next(deadline).await;
    }
    None
}
