//! [`IngestError`]: what the gateway itself can fail with, at start-up or
//! while serving a request. A request's failure becomes a [`crate::Problem`]
//! in one place (`problem.rs`): 503 with `Retry-After` when a retry can
//! help, 500 when it cannot, the cause logged and never sent.

use thiserror::Error;

/// Everything the gateway can fail with (a request it refuses is a
/// [`crate::Problem`] instead).
#[derive(Debug, Error)]
pub enum IngestError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("issuing a token: {0}")]
    Token(String),
    #[error("the JWT secret file: {0}")]
    Secret(#[source] std::io::Error),
    /// The secret is unusable (too short, or an empty file).
    #[error("{0}")]
    BadSecret(String),
    /// The identity provider's keys (JWKS) could not be fetched or read.
    #[error("the JWKS at {url}: {reason}")]
    Jwks { url: String, reason: String },
    #[error("the event log: {0}")]
    Log(#[from] imagegram_eventlog::LogError),
    #[error("the blob store: {0}")]
    Blobs(#[from] imagegram_blobstore::BlobError),
    #[error("the read store: {0}")]
    Store(#[from] imagegram_readstore::StoreError),
    #[error("the feed: {0}")]
    Feed(#[from] imagegram_projections::ProjectionError),
    #[error("{0}")]
    Platform(#[from] imagegram_platform::PlatformError),
    #[error("the dead letters: {0}")]
    DeadLetters(#[from] imagegram_processors::ProcessorError),
    #[error("encoding an event: {0}")]
    Encode(#[from] imagegram_schemas::SchemaError),
    #[error("a stored answer: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a request's task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Another gateway, asked for a page of its feed snapshot, did not
    /// answer in time.
    #[error("the gateway at {owner}: {source}")]
    Peer {
        owner: String,
        #[source]
        source: reqwest::Error,
    },
    /// Development sign-in hands a token to anyone who asks, so it is
    /// refused on any address but loopback.
    #[error("--dev-sign-in gives a token to anyone who asks, so it needs a loopback --listen address (127.0.0.1 or ::1)")]
    DevSignInExposed,
    /// Something the code relies on did not hold: a bug, not an outage.
    #[error("{0}")]
    Broken(&'static str),
}

impl IngestError {
    /// Whether the same request can succeed later: a log, store or blob
    /// store that is away or busy. A bug, a refused statement or a damaged
    /// record cannot.
    pub fn is_transient(&self) -> bool {
        match self {
            IngestError::Log(e) => e.is_transient(),
            IngestError::Blobs(e) => e.is_transient(),
            IngestError::Store(e) => e.is_transient(),
            IngestError::Feed(e) => e.is_transient(),
            IngestError::Platform(e) => e.is_transient(),
            IngestError::DeadLetters(e) => e.is_transient(),
            IngestError::Jwks { .. } | IngestError::Peer { .. } => true,
            IngestError::Bind { .. }
            | IngestError::Token(_)
            | IngestError::Secret(_)
            | IngestError::BadSecret(_)
            | IngestError::Encode(_)
            | IngestError::Json(_)
            | IngestError::Task(_)
            | IngestError::DevSignInExposed
            | IngestError::Broken(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_may_pass_and_bugs_do_not() {
        let outage = imagegram_blobstore::BlobError::S3 {
            context: "connection reset".into(),
            transient: true,
            source: None,
        };
        assert!(IngestError::Blobs(outage).is_transient());
        assert!(!IngestError::Broken("no record acknowledged").is_transient());
        assert!(!IngestError::Log(imagegram_eventlog::LogError::UnknownTopic("t".into())).is_transient());
    }
}
