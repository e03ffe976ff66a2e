//! The read-store ports, one per concern, so each caller depends on what
//! it uses: the read model (projections and queries), request records
//! (idempotency keys and processed marks), upload sessions (tus) and the
//! gateway directory (which gateway serves where). One database holds them
//! all; [`ReadStores`] hands them out together.

mod gateways;
mod keys;
mod model;
mod requests;
mod uploads;

use std::sync::Arc;

use imagegram_eventlog::EventLog;

pub use gateways::GatewayDirectory;
pub(crate) use keys::lease_micros;
pub use keys::{Answer, Claim, Durable, IdempotencyKeys};
pub use model::{
    Advance, Applied, CommentState, CommentView, Counts, FeedKey, PostStatus, PostView, ReadModel,
};
pub use requests::RequestRecords;
pub use uploads::{Upload, UploadSessions};

/// The ports of one read database.
#[derive(Clone)]
pub struct ReadStores {
    pub model: Arc<dyn ReadModel>,
    pub keys: Arc<dyn IdempotencyKeys>,
    pub requests: Arc<dyn RequestRecords>,
    pub uploads: Arc<dyn UploadSessions>,
    pub gateways: Arc<dyn GatewayDirectory>,
}

impl ReadStores {
    /// The embedded default, two files in `dir` and tables in the log's:
    /// `read.db` (SQLite) holds the read model, which the log rebuilds, and
    /// commits without waiting for the disk; `state.db` (SQLite) holds what
    /// only it knows (processed marks, tus offsets, gateways) and waits for
    /// the disk on every commit. The idempotency keys are in the embedded
    /// log's file, written in its commits (see `EmbeddedKeys`); with
    /// another log, in `state.db`.
    pub async fn embedded(dir: &std::path::Path, log: &dyn EventLog) -> Result<Self, crate::StoreError> {
        use crate::{Durability, SqlStore};
        let model = SqlStore::sqlite_with(&dir.join("read.db"), Durability::Rebuildable).await?;
        let state = Arc::new(SqlStore::sqlite_with(&dir.join("state.db"), Durability::Full).await?);
        let keys: Arc<dyn IdempotencyKeys> = match log.side_tables() {
            Some(tables) => Arc::new(crate::EmbeddedKeys::open(tables).await?),
            None => Arc::clone(&state) as Arc<dyn IdempotencyKeys>,
        };
        Ok(ReadStores {
            model: Arc::new(model),
            keys,
            requests: Arc::clone(&state) as Arc<dyn RequestRecords>,
            uploads: Arc::clone(&state) as Arc<dyn UploadSessions>,
            gateways: state,
        })
    }

    /// The ports of `store`, an adapter that implements them all.
    pub fn of<S>(store: S) -> Self
    where
        S: ReadModel + IdempotencyKeys + RequestRecords + UploadSessions + GatewayDirectory + 'static,
    {
        let store = Arc::new(store);
        ReadStores {
            model: Arc::clone(&store) as Arc<dyn ReadModel>,
            keys: Arc::clone(&store) as Arc<dyn IdempotencyKeys>,
            requests: Arc::clone(&store) as Arc<dyn RequestRecords>,
            uploads: Arc::clone(&store) as Arc<dyn UploadSessions>,
            gateways: store,
        }
    }
}
