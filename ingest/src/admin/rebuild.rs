//! `POST /v1/admin/rebuild`: the read tables rebuilt from the whole log
//! and swapped in, with progress as JSON lines.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use imagegram_projections::ProjectionError;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::{json_lines, line};
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
    Ok(json_lines(rx, shutdown))
}
