//! Picking a blob store at start-up.

use std::path::PathBuf;
use std::sync::Arc;

use crate::files::FileStore;
use crate::s3::{S3Config, S3Store};
use crate::{BlobError, BlobStore};

#[derive(Debug, Clone)]
pub enum BlobConfig {
    Files { root: PathBuf },
    S3(S3Config),
}

/// Opens the configured store (creating the directory or bucket if needed).
pub async fn open(config: &BlobConfig) -> Result<Arc<dyn BlobStore>, BlobError> {
    Ok(match config {
        BlobConfig::Files { root } => Arc::new(FileStore::open(root)?),
        BlobConfig::S3(s3) => Arc::new(S3Store::connect(s3.clone()).await?),
    })
}
