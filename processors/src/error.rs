use thiserror::Error;

/// Why a processor stopped.
#[derive(Debug, Error)]
pub enum ProcessorError {
    #[error("the event log: {0}")]
    Log(#[from] imagegram_eventlog::LogError),
    #[error("the read store: {0}")]
    Store(imagegram_readstore::StoreError),
    #[error("encoding an event: {0}")]
    Schema(#[from] imagegram_schemas::SchemaError),
}

/// How handling one event failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// May pass (a store is unreachable): retried with backoff, never skipped.
    Transient(String),
    /// The handler crashed; after a few crashes the event is dead-lettered.
    Crashed(String),
    /// Can never succeed: dead-lettered at once.
    Poison(String),
}

impl Failure {
    /// Retried if the blob store says a retry can help, dead-lettered if not.
    pub fn of_blob(e: imagegram_blobstore::BlobError) -> Self {
        if e.is_transient() {
            Failure::Transient(e.to_string())
        } else {
            Failure::Poison(e.to_string())
        }
    }
}
