use thiserror::Error;

/// Failures while starting up.
#[derive(Debug, Error)]
pub enum PlatformError {
    #[error("the event log: {0}")]
    Log(#[from] imagegram_eventlog::LogError),
    #[error("the blob store: {0}")]
    Blob(#[from] imagegram_blobstore::BlobError),
    #[error("the read store: {0}")]
    Store(#[from] imagegram_readstore::StoreError),
    #[error("--kafka-brokers (IMAGEGRAM_KAFKA_BROKERS) is required with --event-log kafka")]
    MissingBrokers,
    #[error("logging set-up: {0}")]
    Telemetry(String),
    #[error("signal handling: {0}")]
    Signals(#[from] std::io::Error),
}

impl PlatformError {
    /// Whether starting again later can succeed: a service that is not up
    /// yet, not settings that are wrong.
    pub fn is_transient(&self) -> bool {
        match self {
            PlatformError::Log(e) => e.is_transient(),
            PlatformError::Blob(e) => e.is_transient(),
            PlatformError::Store(e) => e.is_transient(),
            PlatformError::MissingBrokers | PlatformError::Telemetry(_) | PlatformError::Signals(_) => false,
        }
    }
}
