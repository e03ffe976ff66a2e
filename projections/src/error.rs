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

impl ProjectionError {
    /// Whether running again later can succeed: a log or store that is
    /// away, not rebuilt tables that fail their check.
    pub fn is_transient(&self) -> bool {
        match self {
            ProjectionError::Log(e) => e.is_transient(),
            ProjectionError::Store(e) => e.is_transient(),
            ProjectionError::Check(_) => false,
        }
    }
}
