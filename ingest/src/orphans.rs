//! The sweep of blobs nothing refers to, every ten minutes, once they are
//! older than the orphan age (an hour by default): staged images
//! (`staging/`), which a request killed between storing and posting
//! leaves; chunks of resumable uploads (`uploads/<id>/…`) whose upload is
//! gone; and writes begun and never finished (partial files, S3 multipart
//! uploads). A live write touches its object at least every body idle
//! timeout, so it is never that old.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::state::AppState;

const EVERY: Duration = Duration::from_secs(600);
/// The most objects looked at per folder per sweep; the next sweep goes on.
const BATCH: usize = 1_000;

/// Sweeps every ten minutes (the first ten minutes after start) until `stop`.
pub fn start(state: AppState, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => {
                    sweep(&state).await;
                }
            }
        }
    });
}

/// One sweep; how many objects and writes it removed.
pub async fn sweep(state: &AppState) -> u64 {
    let age = i64::try_from(state.quotas.orphan_age.as_micros()).unwrap_or(i64::MAX / 2);
    let before = imagegram_schemas::now_us() - age;
    let mut removed = 0;
    match state.blobs.list_older("staging/", before, BATCH).await {
        Ok(staged) => {
            for object in staged {
                removed += u64::from(state.blobs.delete(&object.key).await.is_ok());
            }
        }
        Err(e) => tracing::warn!(error = %e, "listing staged images failed"),
    }
    match state.blobs.list_older("uploads/", before, BATCH).await {
        Ok(chunks) => {
            for chunk in chunks {
                let upload = chunk
                    .key
                    .split('/')
                    .nth(1)
                    .and_then(|id| Uuid::parse_str(id).ok());
                let Some(upload) = upload else { continue };
                if let Ok(None) = state.uploads.upload(upload).await {
                    removed += u64::from(state.blobs.delete(&chunk.key).await.is_ok());
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "listing upload chunks failed"),
    }
    match state.blobs.drop_abandoned_writes(before).await {
        Ok(dropped) => removed += dropped,
        Err(e) => tracing::warn!(error = %e, "dropping abandoned writes failed"),
    }
    if removed > 0 {
        tracing::info!(removed, "orphaned blobs and abandoned writes swept");
    }
    removed
}
