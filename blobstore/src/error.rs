use thiserror::Error;

/// Everything a blob store can fail with.
#[derive(Debug, Error)]
pub enum BlobError {
    #[error("no object at {0}")]
    NotFound(String),
    #[error("the body is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0:?} is not a valid object key")]
    InvalidKey(String),
    /// The body stream the caller supplied failed (a client went away).
    #[error("the body stream failed: {0}")]
    Body(std::io::Error),
    #[error("local blob storage: {0}")]
    Io(#[from] std::io::Error),
    /// Objects being joined were not the sizes the caller named.
    #[error("the sources hold {found} bytes, not the {expected} expected")]
    SizeMismatch { expected: u64, found: u64 },
    #[error("s3: {0}")]
    S3(String),
}

impl BlobError {
    /// Keeps the whole cause chain: the SDK's own Display says only "service error".
    pub(crate) fn s3(e: impl std::error::Error) -> Self {
        BlobError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
    }

    pub(crate) fn s3_message(message: impl Into<String>) -> Self {
        BlobError::S3(message.into())
    }
}
