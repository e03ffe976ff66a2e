//! Blobs as files under a directory.

mod batched;
mod compose;

use batched::BatchedFile;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio_util::io::ReaderStream;

use crate::{validate_key, validate_prefix, BlobError, BlobStore, ByteStream, Listed};

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

    /// Where a new object is written until it is whole.
    fn new_partial(&self) -> PathBuf {
        self.root
            .join(".partial")
            .join(uuid::Uuid::new_v4().simple().to_string())
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    async fn write_partial(&self, partial: &Path, body: ByteStream, limit: u64) -> Result<u64, BlobError> {
        let partial = partial.to_owned();
        let file = BatchedFile::opening(Box::new(move || Ok(std::fs::File::create(partial)?)));
        write_body(file, body, limit).await
    }
}

/// Writes `body` through `file`, at most `limit` bytes, and syncs it.
async fn write_body(mut file: BatchedFile, mut body: ByteStream, limit: u64) -> Result<u64, BlobError> {
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(BlobError::Body)?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(BlobError::TooLarge { limit });
        }
        file.push(chunk).await?;
    }
    file.sync().await?;
    Ok(written)
}

/// `path` opened for writing from `offset`, its bytes from there on gone;
/// made if missing (with its folders) when `offset` is 0, refused if
/// shorter than `offset`.
fn open_at(path: &Path, offset: u64) -> Result<std::fs::File, BlobError> {
    use std::io::{Seek, SeekFrom};
    if let Some(parent) = path.parent().filter(|_| offset == 0) {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(offset == 0)
        .truncate(false)
        .write(true)
        .open(path)?;
    let size = file.metadata()?.len();
    if size < offset {
        return Err(BlobError::SizeMismatch {
            expected: offset,
            found: size,
        });
    }
    file.set_len(offset)?;
    file.seek(SeekFrom::Start(offset))?;
    Ok(file)
}

/// Cuts `path` back to `offset` bytes, durably, if it is longer (never
/// longer: a write that could not open it leaves it as it was).
fn cut_back(path: &Path, offset: u64) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    if file.metadata()?.len() > offset {
        file.set_len(offset)?;
        file.sync_all()?;
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(work).await.map_err(joined)?
}

/// A blocking task that panicked or was cancelled, as an I/O error.
fn joined(e: tokio::task::JoinError) -> BlobError {
    BlobError::Io(std::io::Error::other(e))
}

#[async_trait]
impl BlobStore for FileStore {
    fn backend(&self) -> &'static str {
        "files"
    }

    async fn put_stream(&self, key: &str, body: ByteStream, limit: u64) -> Result<u64, BlobError> {
        let target = self.path(key)?;
        let partial = self.new_partial();
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

    fn writes_in_place(&self) -> bool {
        true
    }

    async fn write_at(&self, key: &str, offset: u64, body: ByteStream, limit: u64) -> Result<u64, BlobError> {
        let path = self.path(key)?;
        let file = {
            let path = path.clone();
            BatchedFile::opening(Box::new(move || open_at(&path, offset)))
        };
        let written = write_body(file, body, limit).await;
        if written.is_err() {
            let _ = blocking(move || Ok(cut_back(&path, offset)?)).await;
        }
        written
    }

    async fn compose(&self, sources: &[(String, u64)], to: &str) -> Result<u64, BlobError> {
        let sources = sources
            .iter()
            .map(|(key, size)| Ok((key.clone(), self.path(key)?, *size)))
            .collect::<Result<Vec<_>, BlobError>>()?;
        let target = self.path(to)?;
        compose::by_kernel_copy(sources, self.new_partial(), target).await
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

    async fn open_local(&self, key: &str) -> Result<Option<std::fs::File>, BlobError> {
        let path = self.path(key)?;
        match blocking(move || Ok(std::fs::File::open(&path)?)).await {
            Ok(file) => Ok(Some(file)),
            Err(BlobError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BlobError::NotFound(key.to_owned()))
            }
            Err(e) => Err(e),
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

    async fn list_older(&self, prefix: &str, before: i64, limit: usize) -> Result<Vec<Listed>, BlobError> {
        validate_prefix(prefix)?;
        let mut found = Vec::new();
        let mut folders = vec![self.root.join(prefix)];
        while let Some(folder) = folders.pop() {
            let mut entries = match tokio::fs::read_dir(&folder).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                let meta = entry.metadata().await?;
                if meta.is_dir() {
                    folders.push(entry.path());
                    continue;
                }
                let modified = modified_us(&meta);
                let key = entry
                    .path()
                    .strip_prefix(&self.root)
                    .ok()
                    .and_then(|p| p.to_str().map(str::to_owned));
                if let (Some(key), true) = (key, modified < before) {
                    found.push(Listed {
                        key,
                        size: meta.len(),
                        modified,
                    });
                    if found.len() >= limit {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(found)
    }

    /// Partial files (`<root>/.partial`) last written before `before`: a
    /// live write touches its file at least every body idle timeout.
    async fn drop_abandoned_writes(&self, before: i64) -> Result<u64, BlobError> {
        let mut dropped = 0;
        let mut entries = tokio::fs::read_dir(self.root.join(".partial")).await?;
        while let Some(entry) = entries.next_entry().await? {
            let meta = entry.metadata().await?;
            if meta.is_file() && modified_us(&meta) < before {
                match tokio::fs::remove_file(entry.path()).await {
                    Ok(()) => dropped += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(dropped)
    }

    async fn check(&self) -> Result<(), BlobError> {
        tokio::fs::metadata(&self.root)
            .await
            .map(drop)
            .map_err(BlobError::from)
    }
}

/// A file's modification time in microseconds since the epoch (0 if the
/// platform cannot say, so it counts as old).
fn modified_us(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
