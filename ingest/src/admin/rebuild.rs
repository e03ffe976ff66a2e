//! Operator actions over HTTP, for the process that holds what they need.
//! In the embedded mode `imagegram serve` owns the log file, so
//! `imagegram rebuild` asks it to rebuild the read tables here instead of
//! opening the log itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use imagegram_projections::ProjectionError;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::auth::Operator;
use crate::state::AppState;
use crate::Problem;

/// One rebuild at a time in a process.
static REBUILDING: AtomicBool = AtomicBool::new(false);

/// Frees the flag when the rebuild's task ends, even by a panic.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        REBUILDING.store(false, Ordering::Release);
    }
}

fn line(value: Value) -> Bytes {
    let mut text = value.to_string();
    text.push('\n');
    Bytes::from(text)
}

/// What the operator is told when a rebuild ends.
fn outcome(result: Result<imagegram_projections::rebuild::Rebuilt, ProjectionError>) -> Value {
    match result {
        Ok(r) => json!({
            "records": r.records,
            "posts": r.counts.posts,
            "published": r.counts.published,
            "live_comments": r.counts.live_comments,
            "rejected": r.counts.rejected,
            "live_at_same_point": r.live_at_same_point.is_some(),
        }),
        // A failed count check is what the operator ran this for.
        Err(e @ ProjectionError::Check(_)) => json!({ "error": e.to_string() }),
        Err(e) => {
            tracing::error!(error = %e, "the rebuild failed");
            json!({ "error": "the rebuild failed; the server's log says why" })
        }
    }
}

/// Rebuild the read tables from the whole log and swap them in.
#[utoipa::path(post, path = "/v1/admin/rebuild", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "JSON lines: {done, total} while it runs, then the counts or {error}", content_type = "application/x-ndjson"),
        (status = 401, description = "no valid token", content_type = "application/problem+json"),
        (status = 403, description = "not an operator token", content_type = "application/problem+json"),
        (status = 409, description = "a rebuild is already running", content_type = "application/problem+json")))]
pub async fn rebuild(State(state): State<AppState>, _: Operator) -> Result<Response, Problem> {
    if REBUILDING.swap(true, Ordering::AcqRel) {
        return Err(Problem::client(
            StatusCode::CONFLICT,
            "rebuild-running",
            "a rebuild is already running in this process",
        ));
    }
    let running = Running;
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let shutdown = state.shutdown.clone();
    // Detached: the rebuild finishes even if the operator's connection drops.
    tokio::spawn(async move {
        let _running = running;
        let progress = tx.clone();
        let result = imagegram_projections::rebuild::rebuild(
            Arc::clone(&state.log),
            Arc::clone(&state.read_model),
            move |done, total| {
                // A slow reader skips progress lines; it never slows the rebuild.
                let _ = progress.try_send(line(json!({ "done": done, "total": total })));
            },
        )
        .await;
        let _ = tx.send(line(outcome(result))).await;
    });
    // At shutdown the answer ends, so it does not hold up the drain.
    let lines = ReceiverStream::new(rx).take_until(shutdown.cancelled_owned());
    let body = Body::from_stream(lines.map(Ok::<_, std::convert::Infallible>));
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}
