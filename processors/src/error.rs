use thiserror::Error;

/// Why a processor stopped.
#[derive(Debug, Error)]
pub enum ProcessorError {
    #[error("the event log: {0}")]
    Log(#[from] imagegram_eventlog::LogError),
    #[error("the read store: {0}")]
    Store(#[source] imagegram_readstore::StoreError),
    #[error("encoding an event: {0}")]
    Schema(#[from] imagegram_schemas::SchemaError),
}

impl ProcessorError {
    /// Whether running again later can succeed: a log or store that is
    /// away, not an event that cannot be encoded.
    pub fn is_transient(&self) -> bool {
        match self {
            ProcessorError::Log(e) => e.is_transient(),
            ProcessorError::Store(e) => e.is_transient(),
            ProcessorError::Schema(_) => false,
        }
    }
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
