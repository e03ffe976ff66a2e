//! The blob-store port.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::BlobError;

/// A body arriving in chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// A stream of one chunk, for bodies already in memory.
pub fn stream_of(bytes: Bytes) -> ByteStream {
    Box::pin(futures::stream::once(async move { Ok(bytes) }))
}

/// Keys are 1–512 characters of `A–Z a–z 0–9 . _ - /`, with no empty,
/// `.` or `..` segment: safe as a file path and as an S3 key.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let charset_ok = key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/'));
    let segments_ok = key.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
    if key.is_empty() || key.len() > 512 || !charset_ok || !segments_ok {
        return Err(BlobError::InvalidKey(key.to_owned()));
    }
    Ok(())
}

/// An object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    /// When it was last written, in microseconds since the epoch.
    pub modified: i64,
}

/// Whether `prefix` can name a folder of keys: safe characters, ending in `/`.
pub fn validate_prefix(prefix: &str) -> Result<(), BlobError> {
    match prefix.strip_suffix('/') {
        Some(folder) => validate_key(folder),
        None => Err(BlobError::InvalidKey(prefix.to_owned())),
    }
}

/// Named objects of bytes.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Short name of the adapter, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Stores `body` under `key`, replacing what was there. The object
    /// appears only once complete: if the body fails or passes `limit`
    /// bytes, nothing is left behind. Returns the size stored.
    async fn put_stream(&self, key: &str, body: ByteStream, limit: u64) -> Result<u64, BlobError>;

    /// Stores bytes already in memory.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        let limit = bytes.len() as u64;
        self.put_stream(key, stream_of(bytes), limit).await.map(drop)
    }

    /// The whole object, for small objects.
    async fn get(&self, key: &str) -> Result<Bytes, BlobError>;

    /// The object as a stream, for large ones.
    async fn get_stream(&self, key: &str) -> Result<ByteStream, BlobError>;

    /// The object opened as a file on this machine, where objects are
    /// files here; `None` where they are not. A reader that seeks or
    /// reads a little at a time (an image decoder) then reads the object
    /// where it lies, instead of a copy of all of it in memory.
    async fn open_local(&self, key: &str) -> Result<Option<std::fs::File>, BlobError> {
        let _ = key;
        Ok(None)
    }

    /// The object's size, or `None` when there is none.
    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError>;

    /// Moves an object to another key, replacing what is there: how a
    /// staged upload becomes the original once its request is accepted.
    async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError>;

    /// Writes the concatenation of `sources` (each a key and its size, in
    /// order) to `to`, leaving the sources in place: how the chunks of a
    /// resumable upload become one object. Like `put_stream`, `to` appears
    /// only once complete. This default streams the bytes through; an
    /// adapter that can join objects where they lie overrides it.
    async fn compose(&self, sources: &[(String, u64)], to: &str) -> Result<u64, BlobError> {
        compose_by_streaming(self, sources, to).await
    }

    /// Whether [`BlobStore::write_at`] works here: a resumable upload's
    /// bytes then go into one object as they arrive, and finishing the
    /// upload joins nothing. Elsewhere each request's bytes are an object
    /// of their own, joined by `compose` at the end.
    fn writes_in_place(&self) -> bool {
        false
    }

    /// Writes `body` into the object `key` from byte `offset` on, where
    /// `offset` is at most its size; whatever was there from `offset` on
    /// (a write cut short earlier) is replaced. An object missing (made
    /// only at offset 0) or shorter than `offset` is an error, and the
    /// store is left as it was. Durable when it returns
    /// the bytes written. More than `limit` bytes is
    /// [`BlobError::TooLarge`], and a failed write leaves the object as it
    /// was up to `offset`. Only where [`BlobStore::writes_in_place`].
    async fn write_at(&self, key: &str, offset: u64, body: ByteStream, limit: u64) -> Result<u64, BlobError> {
        let _ = (offset, body, limit);
        Err(BlobError::Unsupported(format!("writing {key} in place")))
    }

    /// Removes the object; removing what is not there is not an error.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;

    /// Up to `limit` objects whose keys start with `prefix` (a folder,
    /// ending in `/`) and that were last written before `before`
    /// (microseconds since the epoch), in no particular order: what a sweep
    /// of orphans looks at.
    async fn list_older(&self, prefix: &str, before: i64, limit: usize) -> Result<Vec<Listed>, BlobError>;

    /// Removes writes begun before `before` and never finished (a process
    /// killed mid-upload leaves a partial file, or an S3 multipart upload
    /// whose parts are billed); how many.
    async fn drop_abandoned_writes(&self, before: i64) -> Result<u64, BlobError>;

    /// Whether the store answers, for readiness checks.
    async fn check(&self) -> Result<(), BlobError>;
}

/// [`BlobStore::compose`] by reading each source and writing them out
/// as one body.
pub(crate) async fn compose_by_streaming<S: BlobStore + ?Sized>(
    store: &S,
    sources: &[(String, u64)],
    to: &str,
) -> Result<u64, BlobError> {
    let limit = sources.iter().map(|(_, size)| size).sum();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let body: ByteStream = Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx));
    let pump = async move {
        for (key, _) in sources {
            let mut source = match store.get_stream(key).await {
                Ok(source) => source,
                Err(e) => {
                    // Failing the body makes the writer leave nothing at `to`.
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return Err(e);
                }
            };
            while let Some(chunk) = source.next().await {
                let failed = chunk.is_err();
                // The writer stops reading only when it failed; it reports why.
                if tx.send(chunk).await.is_err() || failed {
                    return Ok(());
                }
            }
        }
        Ok::<(), BlobError>(())
    };
    let (pumped, stored) = tokio::join!(pump, store.put_stream(to, body, limit));
    pumped?;
    let stored = stored?;
    if stored != limit {
        store.delete(to).await?;
        return Err(BlobError::SizeMismatch {
            expected: limit,
            found: stored,
        });
    }
    Ok(stored)
}
