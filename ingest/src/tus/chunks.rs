//! An upload's bytes in the blob store: where the store writes in place
//! (files), one object, `uploads/<id>/000000000000-whole`, each request's
//! bytes written at their offset; elsewhere (S3) each PATCH (and a
//! creation with a body) becomes one chunk object, `uploads/<id>/<n>`,
//! streamed as it arrives. A request that breaks off keeps what arrived
//! (tus resumes from there) unless it carried a checksum. On completion
//! the blob store joins the chunks, in order, into one staged object (in
//! place, a hard link; on S3 a multipart upload whose parts are
//! server-side copies of the chunks where they are large enough): memory
//! stays at a few buffers whatever the size.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use bytes::Bytes;
use futures::StreamExt;
use imagegram_blobstore::{BlobError, BlobStore, ByteStream};
use imagegram_readstore::Upload;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::protocol::Algorithm;
use crate::Problem;

/// A name for a new part starting at `offset`; unique even when two
/// requests race at one offset (only one of them will be kept).
pub fn new_part(offset: u64) -> String {
    format!("{offset:012}-{}", &Uuid::new_v4().simple().to_string()[..12])
}

/// The one part of an upload written in place (see [`Target`]); named by
/// offset 0 like any first part, so [`sized_chunks`] sizes it.
pub const WHOLE: &str = "000000000000-whole";

/// Where a request's bytes go.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A chunk object of its own.
    Part(&'a str),
    /// The upload's one object, from this offset on.
    InPlace { offset: u64 },
}

impl Target<'_> {
    fn part(&self) -> &str {
        match self {
            Target::Part(part) => part,
            Target::InPlace { .. } => WHOLE,
        }
    }
}

pub fn chunk_key(upload: Uuid, part: &str) -> String {
    format!("uploads/{}/{part}", upload.simple())
}

enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// Stores `body` at `target` of `upload`, at most `room` bytes. Returns
/// the bytes kept (0: nothing stored).
pub async fn store_chunk(
    blobs: &Arc<dyn BlobStore>,
    upload: Uuid,
    target: Target<'_>,
    body: Body,
    room: u64,
    checksum: Option<(Algorithm, Vec<u8>)>,
) -> Result<u64, Problem> {
    let key = chunk_key(upload, target.part());
    let broke_off = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hasher = Arc::new(std::sync::Mutex::new(
        checksum.as_ref().map(|(a, _)| Hasher::new(*a)),
    ));
    let stream: ByteStream = {
        let (broke_off, hasher) = (Arc::clone(&broke_off), Arc::clone(&hasher));
        Box::pin(
            body.into_data_stream()
                .take_while(move |frame| {
                    // A connection cut mid-request ends the chunk where it broke.
                    let ok = frame.is_ok();
                    if !ok {
                        broke_off.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    futures::future::ready(ok)
                })
                .map(move |frame| {
                    let bytes: Bytes = frame.unwrap_or_default();
                    if let Ok(mut h) = hasher.lock() {
                        if let Some(h) = h.as_mut() {
                            h.update(&bytes);
                        }
                    }
                    Ok(bytes)
                }),
        )
    };
    let written = match target {
        Target::Part(_) => blobs.put_stream(&key, stream, room).await,
        Target::InPlace { offset } => blobs.write_at(&key, offset, stream, room).await,
    };
    let stored = match written {
        Ok(size) => size,
        Err(BlobError::TooLarge { .. }) => {
            return Err(Problem::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload-too-large",
                "the request carries more bytes than the upload has left",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if let Some((_, expected)) = checksum {
        let actual = hasher.lock().ok().and_then(|mut h| h.take()).map(Hasher::finish);
        if broke_off.load(std::sync::atomic::Ordering::Relaxed)
            || actual.as_deref() != Some(expected.as_slice())
        {
            drop_written(blobs, &key, target).await;
            return Err(Problem::client(
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
                "checksum-mismatch",
                "the bytes do not match Upload-Checksum; nothing of this request was kept",
            ));
        }
    }
    if stored == 0 {
        drop_written(blobs, &key, target).await;
    }
    Ok(stored)
}

/// Lets go of bytes written but not kept: their chunk, or what follows the
/// offset in the upload's one object.
async fn drop_written(blobs: &Arc<dyn BlobStore>, key: &str, target: Target<'_>) {
    let dropped = match target {
        Target::Part(_) => blobs.delete(key).await,
        Target::InPlace { offset } => {
            let nothing: ByteStream = Box::pin(futures::stream::empty());
            blobs.write_at(key, offset, nothing, 0).await.map(drop)
        }
    };
    if let Err(e) = dropped {
        tracing::warn!(error = %e, key, "could not drop bytes not kept");
    }
}

/// The upload's chunk objects (`parts`, in order), each with its size: a
/// part's name starts with its offset, so the next part (or the upload's
/// end) bounds it. `None` if a name does not, or the offsets go backwards.
pub fn sized_chunks(upload: &Upload, parts: &[String]) -> Option<Vec<(String, u64)>> {
    let starts = parts
        .iter()
        .map(|part| part.get(..12)?.parse::<u64>().ok())
        .collect::<Option<Vec<u64>>>()?;
    let ends = starts.iter().skip(1).copied().chain([upload.offset]);
    starts
        .iter()
        .zip(ends)
        .zip(parts)
        .map(|((start, end), part)| (end >= *start).then(|| (chunk_key(upload.id, part), end - start)))
        .collect()
}

/// Up to `n` bytes from the start of the upload, for sniffing its format.
pub async fn first_bytes(
    blobs: &dyn BlobStore,
    chunks: &[(String, u64)],
    n: usize,
) -> Result<Vec<u8>, BlobError> {
    let mut head = Vec::with_capacity(n);
    for (key, _) in chunks {
        let mut stream = blobs.get_stream(key).await?;
        while let Some(bytes) = stream.next().await {
            let bytes = bytes.map_err(BlobError::Body)?;
            let wanted = (n - head.len()).min(bytes.len());
            head.extend_from_slice(&bytes[..wanted]);
            if head.len() == n {
                return Ok(head);
            }
        }
    }
    Ok(head)
}

/// What stands for the upload's content in its idempotency hash: the
/// chunks it was assembled from, which never change once it is complete.
pub fn identity(chunks: &[(String, u64)]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for (key, size) in chunks {
        hasher.update(key.as_bytes());
        hasher.update(size.to_le_bytes());
    }
    hasher.finalize().into()
}

pub async fn delete_chunks(blobs: &dyn BlobStore, upload: Uuid, parts: &[String]) {
    for part in parts {
        if let Err(e) = blobs.delete(&chunk_key(upload, part)).await {
            tracing::warn!(error = %e, %upload, part, "deleting an upload chunk failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(parts: &[&str], offset: u64) -> Option<Vec<(String, u64)>> {
        let upload = Upload {
            id: Uuid::nil(),
            owner: "ann".into(),
            length: Some(offset),
            offset,
            metadata: String::new(),
            created_at: 0,
            expires_at: 0,
            post_id: None,
            first_part: None,
        };
        let parts: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
        sized_chunks(&upload, &parts)
    }

    #[test]
    fn chunk_sizes_come_from_the_offsets_in_their_names() {
        let sizes: Vec<u64> = sized(&["000000000000-aa", "000000001000-bb", "000000001500-cc"], 4000)
            .unwrap_or_default()
            .into_iter()
            .map(|(_, size)| size)
            .collect();
        assert_eq!(sizes, vec![1000, 500, 2500]);
        assert_eq!(sized(&[], 0), Some(Vec::new()));
    }

    #[test]
    fn names_without_an_offset_or_going_backwards_are_refused() {
        assert_eq!(sized(&["x-aa"], 10), None);
        assert_eq!(sized(&["000000000500-aa", "000000000100-bb"], 900), None);
        assert_eq!(sized(&["000000000500-aa"], 100), None);
    }
}
