//! Blobs as files under a directory.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use crate::{validate_key, BlobError, BlobStore, ByteStream};

/// Objects as files: `<root>/<key>`; partial writes under `<root>/.partial`.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

impl FileStore {
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root.join(".partial"))?;
        Ok(FileStore {
            root: root.to_owned(),
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    async fn write_partial(
        &self,
        partial: &Path,
        mut body: ByteStream,
        limit: u64,
    ) -> Result<u64, BlobError> {
        let mut file = tokio::fs::File::create(partial).await?;
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(BlobError::Body)?;
            written += chunk.len() as u64;
            if written > limit {
                return Err(BlobError::TooLarge { limit });
            }
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        Ok(written)
    }
}

#[async_trait]
impl BlobStore for FileStore {
    fn backend(&self) -> &'static str {
        "files"
    }

    async fn put_stream(&self, key: &str, body: ByteStream, limit: u64) -> Result<u64, BlobError> {
        let target = self.path(key)?;
        let partial = self
            .root
            .join(".partial")
            .join(uuid::Uuid::new_v4().simple().to_string());
        match self.write_partial(&partial, body, limit).await {
            Ok(size) => {
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                tokio::fs::rename(&partial, &target).await?;
                Ok(size)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e)
            }
        }
    }

    async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(bytes) => Ok(Bytes::from(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound(key.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_stream(&self, key: &str) -> Result<ByteStream, BlobError> {
        match tokio::fs::File::open(self.path(key)?).await {
            Ok(file) => Ok(Box::pin(ReaderStream::with_capacity(file, 256 * 1024))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound(key.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.path(key)?).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError> {
        let (source, target) = (self.path(from)?, self.path(to)?);
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        match tokio::fs::rename(&source, &target).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound(from.to_owned())),
            other => Ok(other?),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn check(&self) -> Result<(), BlobError> {
        tokio::fs::metadata(&self.root)
            .await
            .map(drop)
            .map_err(BlobError::from)
    }
}
