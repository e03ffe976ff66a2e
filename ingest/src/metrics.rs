//! What the gateway counts for `GET /metrics`: requests by route template,
//! method and status class, requests in flight, rate-limit rejections,
//! idempotent replays and open resumable uploads. Labels are bounded: a
//! route is its template (`/v1/posts/{id}`), never the path it was given.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use imagegram_readstore::UploadSessions;
use tokio_util::sync::CancellationToken;

pub const REQUEST_DURATION: &str = "imagegram_http_request_duration_seconds";
pub const IN_FLIGHT: &str = "imagegram_http_requests_in_flight";
pub const RATE_LIMITED: &str = "imagegram_rate_limited_total";
pub const IDEMPOTENT_REPLAYS: &str = "imagegram_idempotent_replays_total";
pub const OPEN_UPLOADS: &str = "imagegram_tus_uploads_open";

/// How often the open uploads are counted.
const COUNT_UPLOADS_EVERY: Duration = Duration::from_secs(10);

/// Gives each of this crate's metrics its help text.
pub fn describe() {
    metrics::describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "HTTP requests from the head read to the answer's head, by route template, method and status class."
    );
    metrics::describe_gauge!(IN_FLIGHT, "HTTP requests being served now.");
    metrics::describe_counter!(
        RATE_LIMITED,
        "Requests refused with 429 by a rate limit, by limit."
    );
    metrics::describe_counter!(
        IDEMPOTENT_REPLAYS,
        "Keyed requests answered with the stored answer of an earlier one."
    );
    for action in crate::rate_limit::Action::ALL {
        metrics::counter!(RATE_LIMITED, "limit" => action.name()).absolute(0);
    }
    metrics::counter!(IDEMPOTENT_REPLAYS).absolute(0);
    metrics::describe_gauge!(
        OPEN_UPLOADS,
        "Resumable uploads not finished nor expired, in the whole store (every gateway reports the same)."
    );
}

/// `2xx`, `4xx`, …: a bounded label for a status (pure).
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// One request in flight; counted out however the request ends, even
/// when the client goes away and the handler is dropped.
struct InFlight;

impl InFlight {
    fn enter() -> InFlight {
        metrics::gauge!(IN_FLIGHT).increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!(IN_FLIGHT).decrement(1.0);
    }
}

/// Times each request and counts it in flight.
pub async fn track(request: Request, next: Next) -> Response {
    let _in_flight = InFlight::enter();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = status_class(response.status().as_u16());
    metrics::histogram!(REQUEST_DURATION, "route" => route, "method" => method, "status" => status)
        .record(started.elapsed().as_secs_f64());
    response
}

/// A request refused by the limit on `limit` (`comments`, `reads`, …).
pub fn rate_limited(limit: &'static str) {
    metrics::counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

/// A keyed request answered with an earlier one's answer.
pub fn idempotent_replay() {
    metrics::counter!(IDEMPOTENT_REPLAYS).increment(1);
}

/// Counts the open uploads every few seconds until `stop`.
pub fn count_open_uploads(uploads: Arc<dyn UploadSessions>, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(COUNT_UPLOADS_EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            match uploads.open_uploads(None, imagegram_schemas::now_us()).await {
                Ok(open) => metrics::gauge!(OPEN_UPLOADS).set(open as f64),
                Err(e) => tracing::debug!(error = %e, "could not count the open uploads"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn statuses_fall_in_five_classes() {
        let classes: Vec<_> = [101, 200, 204, 302, 404, 429, 500, 503, 999]
            .into_iter()
            .map(super::status_class)
            .collect();
        assert_eq!(
            classes,
            ["1xx", "2xx", "2xx", "3xx", "4xx", "4xx", "5xx", "5xx", "5xx"]
        );
    }
}
