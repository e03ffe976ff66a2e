//! Joining objects into one on S3 with a multipart upload whose parts are,
//! where S3 allows, server-side copies of the sources (UploadPartCopy): the
//! bytes of a large source never pass through us. S3 takes parts of at
//! least 5 MiB except the last, so sources below that are gathered here
//! into one part-sized buffer (topped up from the start of the next source
//! by a ranged read) and sent as ordinary parts. Memory stays at one part.

use aws_sdk_s3::primitives::ByteStream as S3Body;
use bytes::BytesMut;

use super::bucket::Bucket;
use super::multipart::Multipart;
use crate::BlobError;

/// The smallest part S3 accepts, the last part excepted.
const MIN_PART: u64 = 5 * 1024 * 1024;

/// Joins `sources` (key, size) into `to`, whose size is `total`, through
/// a multipart upload.
pub(crate) async fn compose(
    bucket: &Bucket,
    sources: &[(String, u64)],
    to: &str,
    total: u64,
) -> Result<u64, BlobError> {
    let mut multipart = Multipart::start(bucket, to).await?;
    let joined = async {
        let mut pending = BytesMut::new();
        for (key, size) in sources {
            let mut start = 0;
            if !pending.is_empty() || *size < MIN_PART {
                let take = (*size).min((bucket.part_size - pending.len()) as u64);
                read_into(bucket, key, (0, take), &mut pending).await?;
                start = take;
                if pending.len() >= bucket.part_size {
                    let part = std::mem::take(&mut pending).freeze();
                    multipart.send_part(bucket, to, part.into()).await?;
                }
            }
            // Either the source is used up or the buffer was just sent.
            if size - start >= MIN_PART {
                multipart.copy_part(bucket, to, key, (start, *size)).await?;
            } else if start < *size {
                read_into(bucket, key, (start, *size), &mut pending).await?;
            }
        }
        if !pending.is_empty() {
            multipart
                .send_part(bucket, to, S3Body::from(pending.freeze()))
                .await?;
        }
        multipart.complete(bucket, to).await
    }
    .await;
    multipart.settle(bucket, to, joined).await.map(|()| total)
}

/// Appends bytes `range` (start, end exclusive) of `key` to `buffer`.
async fn read_into(
    bucket: &Bucket,
    key: &str,
    range: (u64, u64),
    buffer: &mut BytesMut,
) -> Result<(), BlobError> {
    if range.0 == range.1 {
        return Ok(());
    }
    let object = bucket.fetch(key, Some(range)).await?;
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
