//! Comments: add (`POST /v1/posts/{id}/comments`, old `POST /comment`) and
//! delete your own (`DELETE /v1/posts/{id}/comments/{comment_id}`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use imagegram_readstore::PostStatus;
use imagegram_schemas::{ids, now_us, topics, CommentAdded, CommentDeleted, Event, EventKind, EventMeta};
use uuid::Uuid;

use crate::auth::User;
use crate::consistency;
use crate::idempotency::{self, Guarded, Stored};
use crate::posts::append;
use crate::server::AppState;
use crate::views::{timestamp, CommentJson, NewComment};
use crate::Problem;

pub const MAX_COMMENT_CHARS: usize = 1_000;

fn not_found(what: &str) -> Problem {
    Problem::client(StatusCode::NOT_FOUND, "not-found", format!("no such {what}"))
}

/// The trimmed content, if it is 1 to 1,000 characters.
pub fn valid_content(raw: &str) -> Result<String, Problem> {
    let content = raw.trim();
    let chars = content.chars().count();
    if chars == 0 || chars > MAX_COMMENT_CHARS {
        return Err(Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-comment",
            format!("a comment is 1 to {MAX_COMMENT_CHARS} characters after trimming, this one is {chars}"),
        ));
    }
    Ok(content.to_owned())
}

/// Comment on a published post.
#[utoipa::path(post, path = "/v1/posts/{id}/comments", tag = "comments", request_body = NewComment,
    params(("id" = Uuid, Path, description = "post id")),
    responses((status = 201, body = CommentJson),
        (status = 400, description = "bad content", content_type = "application/problem+json"),
        (status = 401, description = "no valid token", content_type = "application/problem+json"),
        (status = 404, description = "no such published post", content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key reused with another body", content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn add_comment(
    State(state): State<AppState>,
    user: User,
    Path(post_id): Path<Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let request: NewComment = serde_json::from_slice(&body).map_err(|e| {
        Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-json",
            format!("expected {{\"content\": \"…\"}}: {e}"),
        )
    })?;
    add(state, user, post_id, &request.content, &headers).await
}

pub async fn add(
    state: AppState,
    User(user): User,
    post_id: Uuid,
    raw: &str,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    let content = valid_content(raw)?;
    let key = idempotency::key_of(headers)?;
    let comment_id = key
        .as_deref()
        .map(|k| ids::derive("comment", &[&user, k]))
        .unwrap_or_else(Uuid::new_v4);
    let hash = idempotency::request_hash(&[post_id.as_bytes(), content.as_bytes()]);
    let work = {
        let (state, user, key) = (state.clone(), user.clone(), key.clone());
        async move { add_comment_event(&state, &user, post_id, comment_id, content, key.as_deref()).await }
    };
    let stored = match key.as_deref() {
        None => work.await?.0,
        Some(key) => match idempotency::run_once(state.store.clone(), &user, key, &hash, work).await? {
            Guarded::Ran(stored, ()) => stored,
            Guarded::Answered(answer) => return Ok(answer),
        },
    };
    Ok(stored.response())
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
    let post = state
        .store
        .post(post_id)
        .await
        .map_err(|e| Problem::server(StatusCode::SERVICE_UNAVAILABLE, &e))?;
    if post.map(|p| p.status) != Some(PostStatus::Published) {
        return Err(not_found("published post"));
    }
    let now = now_us();
    let event = Event::CommentAdded(CommentAdded {
        meta: EventMeta {
            event_id: ids::derive("comment-added", &[&comment_id.to_string()]),
            idempotency_key: key.map(str::to_owned).unwrap_or_else(|| comment_id.to_string()),
            actor: user.to_owned(),
            occurred_at: now,
            post_id,
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
    let body =
        serde_json::to_value(&view).map_err(|e| Problem::server(StatusCode::INTERNAL_SERVER_ERROR, &e))?;
    let stored = Stored {
        status: StatusCode::CREATED.as_u16(),
        location: None,
        consistency: Some(consistency::token(&written)),
        body,
    };
    Ok((stored, ()))
}

/// Delete your own comment.
#[utoipa::path(delete, path = "/v1/posts/{id}/comments/{comment_id}", tag = "comments",
    params(("id" = Uuid, Path, description = "post id"), ("comment_id" = Uuid, Path, description = "comment id")),
    responses((status = 204, description = "deleted"),
        (status = 401, description = "no valid token", content_type = "application/problem+json"),
        (status = 403, description = "someone else's comment", content_type = "application/problem+json"),
        (status = 404, description = "no such comment on that post", content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete_comment(
    State(state): State<AppState>,
    User(user): User,
    Path((post_id, comment_id)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    consistency::after_requested(&state, &headers).await;
    let lookup = || async {
        state
            .store
            .comment(post_id, comment_id)
            .await
            .map_err(|e| Problem::server(StatusCode::SERVICE_UNAVAILABLE, &e))
    };
    let mut found = lookup().await?;
    if found.is_none() {
        // Perhaps only the log has it yet: let the read model catch up with
        // the log as it stands now, which holds any comment already answered.
        let comments = topics::topic_for(EventKind::CommentAdded).name;
        if consistency::catch_up_with(&state, comments).await {
            found = lookup().await?;
        }
    }
    let comment = match found {
        Some(comment) if !comment.deleted => comment,
        _ => return Err(not_found("comment on this post")),
    };
    if comment.creator != user {
        return Err(Problem::client(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the comment's author may delete it",
        ));
    }
    let event = Event::CommentDeleted(CommentDeleted {
        meta: EventMeta {
            event_id: ids::derive("comment-deleted", &[&comment_id.to_string()]),
            idempotency_key: comment_id.to_string(),
            actor: user,
            occurred_at: now_us(),
            post_id,
        },
        comment_id,
    });
    let written = append(&state, &event).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(consistency::HEADER, consistency::token(&written))],
    )
        .into_response())
}
