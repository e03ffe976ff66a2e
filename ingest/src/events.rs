//! `GET /v1/events`: the signed-in user's notifications as Server-Sent
//! Events — `post.published`, `post.failed`, `comment.added` — each with
//! its `id:`. A client that reconnects with `Last-Event-ID` (as every
//! EventSource does) first gets what it missed within the replay window
//! (the last 256 notifications of the last 10 minutes, kept by every
//! gateway), or `missed` when some may be gone, then goes on live. The
//! stream ends when the gateway shuts down.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde_json::json;

use crate::auth::User;
use crate::notifications::{CatchUp, Next, Notice, Notification, Subscription};
use crate::state::AppState;
use crate::views::timestamp;

/// The SSE event for a notification: its name and JSON data.
pub fn sse_of(notification: &Notification) -> (&'static str, serde_json::Value) {
    let post = notification.post_id;
    let (name, mut data) = match &notification.notice {
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
    };
    // Sent back as `Imagegram-Consistency`, a read sees what this tells.
    data["consistency"] = json!(notification.consistency);
    (name, data)
}

/// Your notifications, as they happen.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("bearer" = [])),
    responses(
        (status = 200, content_type = "text/event-stream",
            description = "events `post.published` {post_id, image_url}, `post.failed` {post_id, reason}, \
                `comment.added` {post_id, comment}, each with an `id:`; with `Last-Event-ID`, what was missed \
                first (at least once: drop repeats by id); `missed` {count} if some are gone (count null when unknown)"),
        (status = 401, description = "no valid bearer token", content_type = "application/problem+json")))]
pub async fn events(
    State(state): State<AppState>,
    User(user): User,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    // Live first, then the catch-up: nothing falls between the two, and
    // what both hold is sent once.
    let subscription = state.notifications.subscribe(&user);
    let catch_up = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| !id.is_empty())
        .map(|id| state.notifications.since(&user, id))
        .unwrap_or_default();
    let sent: HashSet<String> = catch_up.notifications.iter().map(|n| n.id.clone()).collect();
    let stream = caught_up(catch_up)
        .chain(live(subscription, sent))
        .map(Ok)
        .take_until(state.shutdown.clone().cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn sse_event(n: &Notification) -> SseEvent {
    let (name, data) = sse_of(n);
    SseEvent::default().id(&n.id).event(name).data(data.to_string())
}

fn missed(count: Option<u64>) -> SseEvent {
    SseEvent::default()
        .event("missed")
        .data(json!({ "count": count }).to_string())
}

/// What a reconnecting client missed: `missed` if some are gone, then the rest.
fn caught_up(catch_up: CatchUp) -> impl Stream<Item = SseEvent> {
    let first = catch_up.missed.then(|| missed(None));
    futures::stream::iter(
        first
            .into_iter()
            .chain(catch_up.notifications.iter().map(sse_event).collect::<Vec<_>>()),
    )
}

/// Notifications as they happen, but those `sent` in the catch-up.
fn live(subscription: Subscription, sent: HashSet<String>) -> impl Stream<Item = SseEvent> {
    futures::stream::unfold((subscription, sent), |(mut subscription, sent)| async move {
        loop {
            let event = match subscription.next().await {
                Next::Notification(n) if sent.contains(&n.id) => continue,
                Next::Notification(n) => sse_event(&n),
                Next::Missed(count) => missed(Some(count)),
                Next::Closed => return None,
            };
            return Some((event, (subscription, sent)));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn each_notice_has_its_event_name_and_data() {
        let post_id = Uuid::nil();
        let n = |notice| Notification {
            id: "1:imagegram.images:0:7".into(),
            at_ms: 1,
            consistency: "0.7.imagegram.images".into(),
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
