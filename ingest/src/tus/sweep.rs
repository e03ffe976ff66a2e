//! The expiration sweep: unfinished uploads untouched for their lifetime
//! (24 h, `Upload-Expires`) are deleted, bytes and state; finished ones
//! lose only their state (their bytes became a post's original). Every
//! gateway runs it; deletes are idempotent, so overlapping sweeps are fine.

use std::sync::Arc;
use std::time::Duration;

use imagegram_blobstore::BlobStore;
use imagegram_readstore::UploadSessions;
use tokio_util::sync::CancellationToken;

use super::chunks::delete_chunks;

/// Deletes what expired before now; the number deleted.
pub async fn sweep_expired(store: &dyn UploadSessions, blobs: &dyn BlobStore) -> usize {
    let expired = match store.expired_uploads(imagegram_schemas::now_us(), 500).await {
        Ok(expired) => expired,
        Err(e) => {
            tracing::warn!(error = %e, "listing expired uploads failed");
            return 0;
        }
    };
    let mut deleted = 0;
    for upload in expired {
        if upload.post_id.is_none() {
            match store.upload_parts(upload.id).await {
                Ok(parts) => delete_chunks(blobs, upload.id, &parts).await,
                Err(e) => {
                    tracing::warn!(error = %e, "listing an expired upload's parts failed");
                    continue;
                }
            }
        }
        match store.delete_upload(upload.id).await {
            Ok(()) => deleted += 1,
            Err(e) => tracing::warn!(error = %e, upload = %upload.id, "deleting an expired upload failed"),
        }
    }
    deleted
}

/// Sweeps every `every` until `stop`.
pub fn start(
    store: Arc<dyn UploadSessions>,
    blobs: Arc<dyn BlobStore>,
    every: Duration,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let deleted = sweep_expired(&*store, &*blobs).await;
            if deleted > 0 {
                tracing::info!(deleted, "expired uploads swept");
            }
        }
    });
}
