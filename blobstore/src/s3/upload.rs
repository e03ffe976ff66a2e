//! Streaming a body into S3: one PutObject when it fits in a part, else a
//! multipart upload whose parts are sent as they fill. At most one part is
//! held in memory; a failure or an oversized body aborts the upload, so no
//! object and no orphaned parts are left.

use aws_sdk_s3::primitives::ByteStream as S3Body;
use bytes::BytesMut;
use futures::StreamExt;

use super::bucket::Bucket;
use super::multipart::Multipart;
use crate::{BlobError, ByteStream};

pub(crate) async fn upload(
    bucket: &Bucket,
    key: &str,
    mut body: ByteStream,
    limit: u64,
) -> Result<u64, BlobError> {
    let mut buffer = BytesMut::with_capacity(bucket.part_size.min(1024 * 1024));
    let mut total = 0u64;
    let mut multipart: Option<Multipart> = None;
    let outcome: Result<(), BlobError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(BlobError::Body)?;
            total += chunk.len() as u64;
            if total > limit {
                return Err(BlobError::TooLarge { limit });
            }
            buffer.extend_from_slice(&chunk);
            while buffer.len() >= bucket.part_size {
                let part = buffer.split_to(bucket.part_size).freeze();
                if multipart.is_none() {
                    multipart = Some(Multipart::start(bucket, key).await?);
                }
                if let Some(m) = multipart.as_mut() {
                    m.send_part(bucket, key, part.into()).await?;
                }
            }
        }
        Ok(())
    }
    .await;
    match (outcome, multipart) {
        (Err(e), Some(m)) => m.settle(bucket, key, Err(e)).await.map(|()| total),
        (Err(e), None) => Err(e),
        (Ok(()), None) => {
            let request = bucket.client.put_object().bucket(&bucket.name).key(key);
            request
                .body(S3Body::from(buffer.freeze()))
                .send()
                .await
                .map_err(BlobError::s3)?;
            Ok(total)
        }
        (Ok(()), Some(mut m)) => {
            let finished = async {
                if !buffer.is_empty() {
                    m.send_part(bucket, key, buffer.freeze().into()).await?;
                }
                m.complete(bucket, key).await
            }
            .await;
            m.settle(bucket, key, finished).await.map(|()| total)
        }
    }
}
