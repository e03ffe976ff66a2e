//! Operator actions and reads over HTTP, for the process that holds what
//! they need. In the embedded mode `imagegram serve` owns the log file, so
//! `imagegram rebuild`, `replay`, `status` and `dlq list` ask it instead
//! of opening the log themselves. Every route takes an operator token
//! (made from the shared secret).
//!
//! - `rebuild.rs`: `POST /v1/admin/rebuild`;
//! - `replay.rs`: `GET /v1/admin/replay`, a topic's records streamed;
//! - `inspect.rs`: `GET /v1/admin/status` and `GET /v1/admin/dead-letters`.

pub mod inspect;
pub mod rebuild;
pub mod replay;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

pub use inspect::{dead_letters, status};
pub use rebuild::rebuild;
pub use replay::replay;

/// One JSON value as a line.
fn line(value: impl serde::Serialize) -> Bytes {
    let mut text = serde_json::to_string(&value).unwrap_or_else(|e| format!("{{\"failed\":\"{e}\"}}"));
    text.push('\n');
    Bytes::from(text)
}

/// An answer of JSON lines from `lines`; it ends at shutdown, so it does
/// not hold up the drain.
fn json_lines(lines: mpsc::Receiver<Bytes>, shutdown: CancellationToken) -> Response {
    let lines = ReceiverStream::new(lines).take_until(shutdown.cancelled_owned());
    let body = Body::from_stream(lines.map(Ok::<_, std::convert::Infallible>));
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
}
