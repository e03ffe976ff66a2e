//! Joining objects into one on S3 with a multipart upload whose parts are,
//! where S3 allows, server-side copies of the sources (UploadPartCopy): the
//! bytes of a large source never pass through us. S3 takes parts of at
//! least 5 MiB except the last, so sources below that are gathered here
//! into one part-sized buffer (topped up from the start of the next source
//! by a ranged read) and sent as ordinary parts. Memory stays at one part.

use aws_sdk_s3::primitives::ByteStream as S3Body;
use bytes::BytesMut;

use crate::port::compose_by_streaming;
use crate::s3::S3Store;
use crate::s3_upload::Multipart;
use crate::BlobError;

/// The smallest part S3 accepts, the last part excepted.
const MIN_PART: u64 = 5 * 1024 * 1024;

pub(crate) async fn compose(store: &S3Store, sources: &[(String, u64)], to: &str) -> Result<u64, BlobError> {
    let total: u64 = sources.iter().map(|(_, size)| size).sum();
    if total <= store.part_size as u64 {
        // One request's worth: a plain PutObject beats three multipart calls.
        return compose_by_streaming(store, sources, to).await;
    }
    let mut multipart = Multipart::start(store, to).await?;
    let joined = async {
        let mut pending = BytesMut::new();
        for (key, size) in sources {
            let mut start = 0;
            if !pending.is_empty() || *size < MIN_PART {
                let take = (*size).min((store.part_size - pending.len()) as u64);
                read_into(store, key, (0, take), &mut pending).await?;
                start = take;
                if pending.len() >= store.part_size {
                    let part = std::mem::take(&mut pending).freeze();
                    multipart.send_part(store, to, part.into()).await?;
                }
            }
            // Either the source is used up or the buffer was just sent.
            if size - start >= MIN_PART {
                multipart.copy_part(store, to, key, (start, *size)).await?;
            } else if start < *size {
                read_into(store, key, (start, *size), &mut pending).await?;
            }
        }
        if !pending.is_empty() {
            multipart
                .send_part(store, to, S3Body::from(pending.freeze()))
                .await?;
        }
        multipart.complete(store, to).await
    }
    .await;
    multipart.settle(store, to, joined).await.map(|()| total)
}

/// Appends bytes `range` (start, end exclusive) of `key` to `buffer`.
async fn read_into(
    store: &S3Store,
    key: &str,
    range: (u64, u64),
    buffer: &mut BytesMut,
) -> Result<(), BlobError> {
    if range.0 == range.1 {
        return Ok(());
    }
    let object = store.fetch(key, Some(range)).await?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(BlobError::s3_body)?
        .into_bytes();
    if bytes.len() as u64 != range.1 - range.0 {
        return Err(BlobError::SizeMismatch {
            expected: range.1 - range.0,
            found: bytes.len() as u64,
        });
    }
    buffer.extend_from_slice(&bytes);
    Ok(())
}
