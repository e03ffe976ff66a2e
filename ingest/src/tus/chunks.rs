//! An upload's bytes in the blob store: each PATCH (and a creation with a
//! body) becomes one chunk object, `uploads/<id>/<n>`, streamed as it
//! arrives. A request that breaks off keeps what arrived (tus resumes from
//! there) unless it carried a checksum. On completion the chunks are
//! streamed, in order, into one staged object: memory stays at a few
//! buffers whatever the size.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use bytes::Bytes;
use futures::StreamExt;
use imagegram_blobstore::{BlobError, BlobStore, ByteStream};
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

/// Stores `body` as `part` of `upload`, at most `room` bytes. Returns
/// the bytes kept (0: nothing stored).
pub async fn store_chunk(
    blobs: &Arc<dyn BlobStore>,
    upload: Uuid,
    part: &str,
    body: Body,
    room: u64,
    checksum: Option<(Algorithm, Vec<u8>)>,
) -> Result<u64, Problem> {
    let key = chunk_key(upload, part);
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
    let stored = match blobs.put_stream(&key, stream, room).await {
        Ok(size) => size,
        Err(BlobError::TooLarge { .. }) => {
            return Err(Problem::client(
                StatusCode::PAYLOAD_TOO_LARGE,
                "upload-too-large",
                "the request carries more bytes than the upload has left",
            ))
        }
        Err(e) => return Err(Problem::server(StatusCode::SERVICE_UNAVAILABLE, &e)),
    };
    if let Some((_, expected)) = checksum {
        let actual = hasher.lock().ok().and_then(|mut h| h.take()).map(Hasher::finish);
        if broke_off.load(std::sync::atomic::Ordering::Relaxed)
            || actual.as_deref() != Some(expected.as_slice())
        {
            let _ = blobs.delete(&key).await;
            return Err(Problem::client(
                StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
                "checksum-mismatch",
                "the bytes do not match Upload-Checksum; nothing of this request was kept",
            ));
        }
    }
    if stored == 0 {
        let _ = blobs.delete(&key).await;
    }
    Ok(stored)
}

/// The upload's parts, in order, as one stream.
pub fn joined(
    blobs: Arc<dyn BlobStore>,
    upload: Uuid,
    parts: Vec<String>,
) -> impl futures::Stream<Item = Result<Bytes, String>> {
    futures::stream::iter(parts)
        .then(move |part| {
            let blobs = Arc::clone(&blobs);
            async move { blobs.get_stream(&chunk_key(upload, &part)).await }
        })
        .flat_map(|opened| match opened {
            Ok(stream) => stream.map(|r| r.map_err(|e| e.to_string())).left_stream(),
            Err(e) => futures::stream::once(futures::future::ready(Err(e.to_string()))).right_stream(),
        })
}

pub async fn delete_chunks(blobs: &dyn BlobStore, upload: Uuid, parts: &[String]) {
    for part in parts {
        if let Err(e) = blobs.delete(&chunk_key(upload, part)).await {
            tracing::warn!(error = %e, %upload, part, "deleting an upload chunk failed");
        }
    }
}
