//! Request ids: every answer carries `x-request-id`, the client's when it
//! sent a sane one, else a fresh UUID (tower-http sets and echoes it). The
//! id is a field of the request's span, so every log line of the request
//! names it, and it is in scope while the request runs, so the events it
//! appends carry it ([`current`]).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::RequestId;

/// The header, as the de facto standard names it.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: Option<String>;
}

/// The longest id taken from a client.
const MAX_LEN: usize = 128;

/// Whether a client's id may be used as it is: short, and of characters
/// that cannot break a log line or a header (pure).
pub fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'='))
}

/// Drops a client's id that is not sane, so a fresh one is made for it.
pub async fn drop_insane(mut request: Request, next: Next) -> Response {
    let insane = request
        .headers()
        .get(HEADER)
        .is_some_and(|value| value.to_str().map_or(true, |id| !is_sane(id)));
    if insane {
        request.headers_mut().remove(HEADER);
    }
    next.run(request).await
}

/// Runs the rest of the request with its id in scope.
pub async fn in_scope(request: Request, next: Next) -> Response {
    let id = of(&request);
    CURRENT.scope(id, next.run(request)).await
}

/// The id tower-http settled on for `request`.
pub fn of<B>(request: &axum::http::Request<B>) -> Option<String> {
    request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .map(str::to_owned)
}

/// The id of the request being served, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok().flatten()
}

/// Runs `work` (a task spawned for the request) with the current id in scope.
pub async fn carried<F: std::future::Future>(id: Option<String>, work: F) -> F::Output {
    CURRENT.scope(id, work).await
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn only_short_plain_ids_are_taken() {
        assert!(is_sane("3f2a9c4e-1b7d-4e0a-9a53-0c8f1d2e3b4a"));
        assert!(is_sane("trace:abc/1+x="));
        for bad in ["", "a b", "new\nline", "quote\"", "é", &"x".repeat(129)] {
            assert!(!is_sane(bad), "{bad:?}");
        }
    }
}
