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
    /// This store does not do what was asked of it (see `writes_in_place`).
    #[error("not supported by this blob store: {0}")]
    Unsupported(String),
    /// Objects being joined were not the sizes the caller named.
    #[error("the sources hold {found} bytes, not the {expected} expected")]
    SizeMismatch { expected: u64, found: u64 },
    /// S3 failed or refused; `context` is the whole cause chain as text
    /// (the SDK's own Display says only "service error").
    #[error("s3: {context}")]
    S3 {
        context: String,
        transient: bool,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
}

/// S3's error codes that no retry changes: the request or the credentials
/// are wrong, not the service's health.
const REFUSALS: &[&str] = &[
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "NoSuchBucket",
    "InvalidBucketName",
    "EntityTooLarge",
    "EntityTooSmall",
    "InvalidArgument",
    "InvalidRequest",
    "InvalidPart",
    "InvalidPartOrder",
    "MalformedXML",
    "NoSuchUpload",
];

impl BlobError {
    /// A failed S3 call, keeping the SDK's error as the source; transient
    /// unless S3 refused it for what it was.
    pub(crate) fn s3<E>(e: E) -> Self
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let refused = e.code().is_some_and(|code| REFUSALS.contains(&code));
        BlobError::S3 {
            context: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
            transient: !refused,
            source: Some(Box::new(e)),
        }
    }

    /// An object's body broke off while being read: worth another try.
    pub(crate) fn s3_body(e: aws_sdk_s3::primitives::ByteStreamError) -> Self {
        BlobError::S3 {
            context: e.to_string(),
            transient: true,
            source: Some(Box::new(e)),
        }
    }

    /// S3 answered something the SDK took but that cannot be used.
    pub(crate) fn s3_message(message: impl Into<String>) -> Self {
        BlobError::S3 {
            context: message.into(),
            transient: false,
            source: None,
        }
    }

    /// Whether trying the same call again later can succeed: a store that
    /// is away or slow, not a request it refuses for what it is.
    pub fn is_transient(&self) -> bool {
        match self {
            BlobError::S3 { transient, .. } => *transient,
            BlobError::Io(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::InvalidInput
            ),
            BlobError::NotFound(_)
            | BlobError::TooLarge { .. }
            | BlobError::InvalidKey(_)
            | BlobError::Body(_)
            | BlobError::SizeMismatch { .. }
            | BlobError::Unsupported(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_transient_and_refusals_are_not() {
        assert!(!BlobError::NotFound("k".into()).is_transient());
        assert!(!BlobError::InvalidKey("..".into()).is_transient());
        assert!(BlobError::Io(std::io::Error::other("disk away")).is_transient());
        assert!(!BlobError::s3_message("no upload id").is_transient());
    }
}
