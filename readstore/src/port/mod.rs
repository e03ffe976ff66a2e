//! The read-store ports, one per concern, so each caller depends on what
//! it uses: the read model (projections and queries), request records
//! (idempotency keys and processed marks) and upload sessions (tus). One
//! database holds all three; [`ReadStores`] hands them out together.

mod model;
mod requests;
mod uploads;

use std::sync::Arc;

pub use model::{
    Advance, Applied, CommentState, CommentView, Counts, FeedKey, PostStatus, PostView, ReadModel,
};
pub use requests::{Claim, RequestRecords};
pub use uploads::{Upload, UploadSessions};

/// The three ports of one read database.
#[derive(Clone)]
pub struct ReadStores {
    pub model: Arc<dyn ReadModel>,
    pub requests: Arc<dyn RequestRecords>,
    pub uploads: Arc<dyn UploadSessions>,
}

impl ReadStores {
    /// The three ports of `store`, an adapter that implements them all.
    pub fn of<S: ReadModel + RequestRecords + UploadSessions + 'static>(store: S) -> Self {
        let store = Arc::new(store);
        ReadStores {
            model: Arc::clone(&store) as Arc<dyn ReadModel>,
            requests: Arc::clone(&store) as Arc<dyn RequestRecords>,
            uploads: store,
        }
    }
}
