//! `GET /v1/admin/replay`: a topic's records decoded, streamed as JSON
//! lines for `imagegram replay` (the same items it makes when it reads
//! the log itself): the total, an item per record, then the counts.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use bytes::Bytes;
use imagegram_platform::replay::{Range, Replayed};
use tokio::sync::mpsc;

use super::{json_lines, line};
use crate::auth::Operator;
use crate::state::AppState;
use crate::Problem;

/// Replay a topic's records between offsets or times.
#[utoipa::path(get, path = "/v1/admin/replay", tag = "admin", security(("bearer" = [])),
    params(("topic" = String, Query, description = "the topic, without any prefix"),
        ("from_offset" = Option<u64>, Query), ("to_offset" = Option<u64>, Query),
        ("from_ms" = Option<i64>, Query, description = "appended at or after, ms since the epoch"),
        ("to_ms" = Option<i64>, Query, description = "appended before, ms since the epoch")),
    responses((status = 200, description = "JSON lines: {total}, then {row} or \"skipped\" per record, then {done} or {failed}", content_type = "application/x-ndjson"),
        (status = 401, description = "no valid token", content_type = "application/problem+json"),
        (status = 403, description = "not an operator token", content_type = "application/problem+json"),
        (status = 404, description = "no such topic", content_type = "application/problem+json")))]
pub async fn replay(
    State(state): State<AppState>,
    _: Operator,
    Query(range): Query<Range>,
) -> Result<Response, Problem> {
    // A topic that does not exist is the operator's mistake, told at once.
    state.log.partitions(&range.topic).await.map_err(|e| match e {
        imagegram_eventlog::LogError::UnknownTopic(topic) => Problem::client(
            axum::http::StatusCode::NOT_FOUND,
            "no-such-topic",
            format!("there is no topic {topic}"),
        ),
        other => other.into(),
    })?;
    let (items, mut from_log) = mpsc::channel::<Replayed>(1024);
    let (lines, out) = mpsc::channel::<Bytes>(64);
    let log = Arc::clone(&state.log);
    // The replay waits on a slow reader, and stops when it goes away.
    tokio::spawn(async move { imagegram_platform::replay::replay(&*log, &range, items).await });
    tokio::spawn(async move {
        while let Some(item) = from_log.recv().await {
            if lines.send(line(item)).await.is_err() {
                return;
            }
        }
    });
    Ok(json_lines(out, state.shutdown.clone()))
}
