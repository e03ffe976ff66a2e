//! Comments: add (`POST /v1/posts/{id}/comments`, old `POST /comment`) and
//! delete your own (`DELETE /v1/posts/{id}/comments/{comment_id}`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use imagegram_schemas::{ids, now_us, topics, CommentDeleted, Event, EventKind, EventMeta};
use uuid::Uuid;

use crate::auth::User;
use crate::consistency;
use crate::idempotency::{self, Guarded};
use crate::json_body::JsonBody;
use crate::publish::{self, append};
use crate::rate_limit::Action;
use crate::state::AppState;
use crate::views::{CommentJson, NewComment};
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
    JsonBody(request): JsonBody<NewComment>,
) -> Result<Response, Problem> {
    add(state, user, post_id, &request.content, &headers).await
}

pub async fn add(
    state: AppState,
    User(user): User,
    post_id: Uuid,
    raw: &str,
    headers: &HeaderMap,
) -> Result<Response, Problem> {
    state.limits.user(Action::Comment, &user)?;
    let content = valid_content(raw)?;
    let key = idempotency::key_of(headers)?;
    Ok(
        match publish::publish_comment(&state, &user, post_id, content, key).await? {
            Guarded::Ran(stored, ()) => stored.response(),
            Guarded::Earlier(earlier) => earlier.into_response(),
        },
    )
}

/// Delete your own comment.
#[utoipa::path(delete, path = "/v1/posts/{id}/comments/{comment_id}", tag = "comments",
    params(("id" = Uuid, Path, description = "post id"), ("comment_id" = Uuid, Path, description = "comment id")),
    responses((status = 204, description = "deleted"),
        (status = 401, description = "no valid token", content_type = "application/problem+json"),
        (status = 403, description = "someone else's comment", content_type = "application/problem+json"),
        (status = 404, description = "no such comment on that post", content_type = "application/problem+json"),
        (status = 503, description = "the read model has not caught up with the log within 3 s (or the log is away): retry after `Retry-After`", content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete_comment(
    State(state): State<AppState>,
    User(user): User,
    Path((post_id, comment_id)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    state.limits.user(Action::Delete, &user)?;
    consistency::after_requested(&state, &headers).await;
    let lookup = || async {
        state
            .read_model
            .comment(post_id, comment_id)
            .await
            .map_err(Problem::from)
    };
    let mut found = lookup().await?;
    if found.is_none() {
        // Perhaps only the log has it yet: let the read model catch up with
        // the log as it stands now, which holds any comment already answered.
        let comments = topics::topic_for(EventKind::CommentAdded).name;
        if !consistency::catch_up_with(&state, comments).await {
            // Not caught up in time (a projector restarting, say): whether
            // the comment exists is not known yet, so not a 404.
            return Err(Problem::client(
                StatusCode::SERVICE_UNAVAILABLE,
                "catching-up",
                "the comments are still being applied; retry shortly",
            )
            .retry_after(1));
        }
        found = lookup().await?;
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
            request_id: crate::request_id::current(),
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
