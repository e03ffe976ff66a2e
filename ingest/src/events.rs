//! `GET /v1/events`: the signed-in user's notifications as Server-Sent
//! Events — `post.published`, `post.failed`, `comment.added` — from the
//! moment of connecting. The stream ends when the gateway shuts down; a
//! client that reconnects reads the state it may have missed from
//! `GET /v1/posts/{id}`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde_json::json;

use crate::auth::User;
use crate::notifications::{Next, Notice, Notification};
use crate::state::AppState;
use crate::views::timestamp;

/// The SSE event for a notification: its name and JSON data.
pub fn sse_of(notification: &Notification) -> (&'static str, serde_json::Value) {
    let post = notification.post_id;
    match &notification.notice {
        Notice::Published => (
            "post.published",
            json!({ "post_id": post, "image_url": format!("/v1/images/{post}.jpg") }),
        ),
        Notice::Failed { reason } => ("post.failed", json!({ "post_id": post, "reason": reason })),
        Notice::CommentAdded {
            comment_id,
            creator,
            content,
            created_at,
        } => (
            "comment.added",
            json!({ "post_id": post, "comment": {
                "id": comment_id, "creator": creator, "content": content,
                "created_at": timestamp(*created_at) } }),
        ),
    }
}

/// Your notifications, as they happen.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = [])),
    responses(
        (status = 200, content_type = "text/event-stream",
            description = "events `post.published` {post_id, image_url}, `post.failed` {post_id, reason}, \
                `comment.added` {post_id, comment}; `missed` {count} if the client fell behind"),
        (status = 401, description = "no valid bearer token", content_type = "application/problem+json")))]
pub async fn events(
    State(state): State<AppState>,
    User(user): User,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let subscription = state.notifications.subscribe(&user);
    let stream = futures::stream::unfold(subscription, |mut subscription| async move {
        let event = match subscription.next().await {
            Next::Notification(n) => {
                let (name, data) = sse_of(&n);
                SseEvent::default().event(name).data(data.to_string())
            }
            Next::Missed(count) => SseEvent::default()
                .event("missed")
                .data(json!({ "count": count }).to_string()),
            Next::Closed => return None,
        };
        Some((Ok(event), subscription))
    })
    .take_until(state.shutdown.clone().cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn each_notice_has_its_event_name_and_data() {
        let post_id = Uuid::nil();
        let n = |notice| Notification {
            recipient: "ann".into(),
            post_id,
            notice,
        };
        assert_eq!(sse_of(&n(Notice::Published)).0, "post.published");
        let (name, data) = sse_of(&n(Notice::Failed {
            reason: "corrupt png".into(),
        }));
        assert_eq!(
            (name, data["reason"].as_str()),
            ("post.failed", Some("corrupt png"))
        );
        let (name, data) = sse_of(&n(Notice::CommentAdded {
            comment_id: Uuid::nil(),
            creator: "bob".into(),
            content: "nice".into(),
            created_at: 0,
        }));
        assert_eq!(name, "comment.added");
        assert_eq!(data["comment"]["creator"], "bob");
    }
}
