//! One request at a time writes an upload whose bytes go into one object
//! in place (`BlobStore::writes_in_place`): two PATCHes racing at one
//! offset would otherwise write over each other's bytes, where separate
//! parts let the offset's compare-and-set keep one and drop the other.
//! The embedded mode is one process, so a lock per upload in memory is
//! enough; each request reads the offset once it has its turn.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

/// The locks of the uploads being written.
#[derive(Clone, Default)]
pub struct UploadTurns(Arc<Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>>);

/// A request's turn on an upload, until dropped.
pub struct Turn {
    _held: OwnedMutexGuard<()>,
}

impl UploadTurns {
    /// Waits for `upload`'s turn.
    pub async fn take(&self, upload: Uuid) -> Turn {
        let lock = {
            let mut locks = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // Locks nobody holds or waits for go, so the map stays small.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            Arc::clone(locks.entry(upload).or_default())
        };
        Turn {
            _held: lock.lock_owned().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_turn_at_a_time_per_upload() {
        let turns = UploadTurns::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = turns.take(a).await;
        let _other = turns.take(b).await; // another upload is not held up
        let waiting = tokio::time::timeout(Duration::from_millis(20), turns.take(a)).await;
        assert!(waiting.is_err(), "the second request on `a` waits");
        drop(first);
        let _second = tokio::time::timeout(Duration::from_secs(1), turns.take(a))
            .await
            .expect("its turn comes");
    }
}
