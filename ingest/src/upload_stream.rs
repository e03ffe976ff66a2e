//! Streaming one multipart file part into the blob store as it arrives:
//! memory stays at a few chunks whatever the file's size. The format is
//! decided from the first bytes; anything but png, jpeg or bmp stops the
//! upload, and so does passing the size limit, leaving nothing stored.

use std::sync::Arc;

use axum::extract::multipart::{Field, Multipart};
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use imagegram_blobstore::{BlobError, BlobStore, ByteStream};
use imagegram_schemas::ImageFormat;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::{IngestError, Problem};

/// The most image bytes a post may have.
pub const MAX_IMAGE_BYTES: u64 = 104_857_600;

/// What was stored.
#[derive(Debug)]
pub struct StoredImage {
    pub format: ImageFormat,
    pub size: u64,
    /// Its SHA-256, when it was asked for.
    pub sha256: Option<[u8; 32]>,
}

enum PumpEnd {
    Done(ImageFormat, Option<[u8; 32]>),
    NotAnImage,
    /// The store stopped reading (it failed or the body is too large).
    StoreGone,
    /// The request body failed: too large (413), or broke off.
    Body(BodyError),
}

/// How a request body failed, as its reader said.
#[derive(Debug, Clone)]
pub struct BodyError {
    pub status: StatusCode,
    pub detail: String,
}

/// Streams `field` to `key`, with its SHA-256 if `digest`. On any failure
/// nothing is left at `key`.
pub async fn store_field(
    blobs: &Arc<dyn BlobStore>,
    key: &str,
    field: Field<'_>,
    digest: bool,
) -> Result<StoredImage, Problem> {
    let chunks = futures::stream::unfold(field, |mut field| async move {
        match field.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), field)),
            Ok(None) => None,
            Err(e) => Some((
                Err(BodyError {
                    status: e.status(),
                    detail: e.body_text(),
                }),
                field,
            )),
        }
    });
    store_stream(blobs, key, chunks, digest).await
}

/// Streams `chunks` to `key`, deciding the format from the first bytes,
/// with their SHA-256 if `digest`. On any failure nothing is left at `key`.
pub async fn store_stream(
    blobs: &Arc<dyn BlobStore>,
    key: &str,
    chunks: impl Stream<Item = Result<Bytes, BodyError>>,
    digest: bool,
) -> Result<StoredImage, Problem> {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let body: ByteStream = Box::pin(ReceiverStream::new(rx));
    let pump = async move {
        let mut chunks = std::pin::pin!(chunks);
        let mut hasher = digest.then(Sha256::new);
        let mut head = BytesMut::new();
        let mut format = None;
        loop {
            let chunk = match chunks.next().await {
                Some(Ok(chunk)) => chunk,
                None => break,
                Some(Err(e)) => {
                    let _ = tx.send(Err(std::io::Error::other(e.detail.clone()))).await;
                    return PumpEnd::Body(e);
                }
            };
            if let Some(hasher) = hasher.as_mut() {
                hasher.update(&chunk);
            }
            let out = if format.is_some() {
                chunk
            } else {
                head.extend_from_slice(&chunk);
                if head.len() < ImageFormat::SNIFF_LEN {
                    continue;
                }
                match ImageFormat::sniff(&head) {
                    Some(found) => format = Some(found),
                    None => {
                        let _ = tx.send(Err(std::io::Error::other("not an image"))).await;
                        return PumpEnd::NotAnImage;
                    }
                }
                std::mem::take(&mut head).freeze()
            };
            if tx.send(Ok(out)).await.is_err() {
                return PumpEnd::StoreGone;
            }
        }
        let format = match format.or_else(|| ImageFormat::sniff(&head)) {
            Some(format) => format,
            None => {
                let _ = tx.send(Err(std::io::Error::other("not an image"))).await;
                return PumpEnd::NotAnImage;
            }
        };
        if !head.is_empty() && tx.send(Ok(head.freeze())).await.is_err() {
            return PumpEnd::StoreGone;
        }
        PumpEnd::Done(format, hasher.map(|h| h.finalize().into()))
    };
    let (pumped, stored) = tokio::join!(pump, blobs.put_stream(key, body, MAX_IMAGE_BYTES));
    match (pumped, stored) {
        (PumpEnd::Done(format, sha256), Ok(size)) => Ok(StoredImage { format, size, sha256 }),
        (PumpEnd::NotAnImage, _) => Err(not_an_image()),
        (_, Err(BlobError::TooLarge { limit })) => Err(too_large(limit)),
        (PumpEnd::Body(e), _) if e.status == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large(MAX_IMAGE_BYTES)),
        (PumpEnd::Body(e), _) => Err(Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-body",
            format!("the upload broke off: {}", e.detail),
        )),
        (_, Err(e)) => Err(e.into()),
        (PumpEnd::StoreGone, Ok(_)) => {
            Err(IngestError::Broken("the blob store ended the upload early").into())
        }
    }
}

/// The answer to a file whose first bytes are not png, jpeg or bmp.
pub fn not_an_image() -> Problem {
    Problem::client(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-image",
        "the file is not a png, jpeg or bmp image (decided from its content, not its name)",
    )
}

fn too_large(limit: u64) -> Problem {
    Problem::client(
        StatusCode::PAYLOAD_TOO_LARGE,
        "image-too-large",
        format!("the image is larger than {limit} bytes"),
    )
}

/// Reads a small text part, refusing more than `max_bytes`.
pub async fn text_field(mut field: Field<'_>, max_bytes: usize, what: &str) -> Result<String, Problem> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-body",
            format!("reading {what}: {}", e.body_text()),
        )
    })? {
        if bytes.len() + chunk.len() > max_bytes {
            return Err(Problem::client(
                StatusCode::BAD_REQUEST,
                "too-long",
                format!("{what} is too long"),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| {
        Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-text",
            format!("{what} is not UTF-8"),
        )
    })
}

/// Reads and drops the rest of the body, so the client that is still
/// sending hears the answer instead of a reset connection.
pub async fn drain(multipart: &mut Multipart) {
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}
