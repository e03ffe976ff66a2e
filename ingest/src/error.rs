use thiserror::Error;

/// Failures of the gateway itself (not of a request: those are [`crate::Problem`]s).
#[derive(Debug, Error)]
pub enum IngestError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("issuing a token: {0}")]
    Token(String),
    #[error("the JWT secret file: {0}")]
    Secret(std::io::Error),
    #[error("the event log: {0}")]
    Log(#[from] imagegram_eventlog::LogError),
    #[error("the feed: {0}")]
    Feed(#[from] imagegram_projections::ProjectionError),
}
