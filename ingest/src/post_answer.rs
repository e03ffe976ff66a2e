//! The answer to a request that made a post, the same for a multipart
//! upload and a finished resumable one: 202 at once, or with `?wait=`,
//! 201 once published and 422 (naming the post) if conversion failed.

use std::future::Future;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::notifications::Subscription;
use crate::publish::{self, Outcome};
use crate::state::AppState;
use crate::views::PostJson;
use crate::Problem;

/// The longest `?wait=` honoured, in seconds.
pub const MAX_WAIT_SECS: u64 = 60;

/// With a `wait` (seconds), the post's outcome if it comes in time; else
/// `accepted`, the 202 to give. `outcomes` were subscribed before the
/// post's event was appended, so no outcome slips past.
pub async fn when_done(
    state: &AppState,
    post_id: Uuid,
    outcomes: &mut Subscription,
    wait: Option<u64>,
    accepted: impl Future<Output = Response>,
) -> Response {
    let location = format!("/v1/posts/{post_id}");
    let wait = Duration::from_secs(wait.unwrap_or(0).min(MAX_WAIT_SECS));
    if !wait.is_zero() {
        if let Some(outcome) = publish::await_outcome(state, post_id, outcomes, wait).await {
            return with_location(outcome_answer(outcome, &location), &location);
        }
    }
    with_location(accepted.await, &location)
}

/// 201 with the post once published; 422 naming the post if conversion failed.
fn outcome_answer(outcome: Outcome, location: &str) -> Response {
    match outcome {
        Outcome::Published(view) => (StatusCode::CREATED, axum::Json(PostJson::of(&view))).into_response(),
        // The post exists, failed: name it, so the client can read it.
        Outcome::Failed(reason) => {
            Problem::client(StatusCode::UNPROCESSABLE_ENTITY, "conversion-failed", reason)
                .about(location)
                .into_response()
        }
    }
}

fn with_location(mut response: Response, location: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
