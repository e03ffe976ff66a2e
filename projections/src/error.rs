use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProjectionError {
    #[error("the event log: {0}")]
    Log(#[from] imagegram_eventlog::LogError),
    #[error("the read store: {0}")]
    Store(#[from] imagegram_readstore::StoreError),
    #[error("the rebuilt tables fail their count check: {0}")]
    Check(String),
}
