//! A comment: `CommentAdded` appended if its post is published, once per
//! idempotency key.

use axum::http::StatusCode;
use imagegram_readstore::PostStatus;
use imagegram_schemas::{ids, now_us, CommentAdded, Event, EventMeta};
use uuid::Uuid;

use super::append;
use crate::consistency;
use crate::idempotency::{self, Guarded, Stored};
use crate::state::AppState;
use crate::views::{timestamp, CommentJson};
use crate::Problem;

/// Adds `user`'s comment (already validated) to `post_id`, once per
/// idempotency `key`: the 201 to answer, or what an earlier request with
/// the key came to.
pub async fn publish_comment(
    state: &AppState,
    user: &str,
    post_id: Uuid,
    content: String,
    key: Option<String>,
) -> Result<Guarded<()>, Problem> {
    let comment_id = key
        .as_deref()
        .map(|k| ids::derive("comment", &[user, k]))
        .unwrap_or_else(Uuid::new_v4);
    let hash = idempotency::request_hash(&[post_id.as_bytes(), content.as_bytes()]);
    let work = {
        let (state, user, key) = (state.clone(), user.to_owned(), key.clone());
        async move { add_comment_event(&state, &user, post_id, comment_id, content, key.as_deref()).await }
    };
    match key {
        None => work.await.map(|(stored, ())| Guarded::Ran(stored, ())),
        Some(key) => idempotency::run_once(state.keys.clone(), &state.keyed, user, &key, &hash, work).await,
    }
}

/// Appends `CommentAdded` if the post is published; the answer to give.
async fn add_comment_event(
    state: &AppState,
    user: &str,
    post_id: Uuid,
    comment_id: Uuid,
    content: String,
    key: Option<&str>,
) -> Result<(Stored, ()), Problem> {
    let post = state.read_model.post(post_id).await?;
    if post.map(|p| p.status) != Some(PostStatus::Published) {
        return Err(Problem::client(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such published post",
        ));
    }
    let now = now_us();
    let event = Event::CommentAdded(CommentAdded {
        meta: EventMeta {
            event_id: ids::derive("comment-added", &[&comment_id.to_string()]),
            idempotency_key: key.map(str::to_owned).unwrap_or_else(|| comment_id.to_string()),
            actor: user.to_owned(),
            occurred_at: now,
            post_id,
            request_id: crate::request_id::current(),
        },
        comment_id,
        content: content.clone(),
    });
    let written = append(state, &event).await?;
    let view = CommentJson {
        id: comment_id,
        post_id,
        creator: user.to_owned(),
        content,
        created_at: timestamp(now),
    };
    let body = serde_json::value::to_raw_value(&view)?;
    let stored = Stored {
        status: StatusCode::CREATED.as_u16(),
        location: None,
        consistency: Some(consistency::token(&written)),
        body,
    };
    Ok((stored, ()))
}
