//! Streaming a body into S3: one PutObject when it fits in a part, else a
//! multipart upload whose parts are sent as they fill. At most one part is
//! held in memory; a failure or an oversized body aborts the upload, so no
//! object and no orphaned parts are left.

use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::BytesMut;
use futures::StreamExt;

use crate::s3::S3Store;
use crate::{BlobError, ByteStream};

pub(crate) async fn upload(
    store: &S3Store,
    key: &str,
    mut body: ByteStream,
    limit: u64,
) -> Result<u64, BlobError> {
    let mut buffer = BytesMut::with_capacity(store.part_size.min(1024 * 1024));
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
            while buffer.len() >= store.part_size {
                let part = buffer.split_to(store.part_size).freeze();
                if multipart.is_none() {
                    multipart = Some(Multipart::start(store, key).await?);
                }
                if let Some(m) = multipart.as_mut() {
                    m.send_part(store, key, part.into()).await?;
                }
            }
        }
        Ok(())
    }
    .await;
    match (outcome, multipart) {
        (Err(e), Some(m)) => m.settle(store, key, Err(e)).await.map(|()| total),
        (Err(e), None) => Err(e),
        (Ok(()), None) => {
            let request = store.client.put_object().bucket(&store.bucket).key(key);
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
                    m.send_part(store, key, buffer.freeze().into()).await?;
                }
                m.complete(store, key).await
            }
            .await;
            m.settle(store, key, finished).await.map(|()| total)
        }
    }
}

pub(crate) struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

impl Multipart {
    pub(crate) async fn start(store: &S3Store, key: &str) -> Result<Self, BlobError> {
        let created = store
            .client
            .create_multipart_upload()
            .bucket(&store.bucket)
            .key(key)
            .send()
            .await
            .map_err(BlobError::s3)?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| BlobError::s3_message("no upload id"))?
            .to_owned();
        Ok(Multipart {
            upload_id,
            parts: Vec::new(),
        })
    }

    pub(crate) async fn send_part(
        &mut self,
        store: &S3Store,
        key: &str,
        body: S3Body,
    ) -> Result<(), BlobError> {
        let number = self.parts.len() as i32 + 1;
        let sent = store
            .client
            .upload_part()
            .bucket(&store.bucket)
            .key(key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(body)
            .send()
            .await
            .map_err(BlobError::s3)?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(sent.e_tag)
                .build(),
        );
        Ok(())
    }

    /// Copies bytes `range` (start, end exclusive) of the object `source`
    /// in as the next part, server-side.
    pub(crate) async fn copy_part(
        &mut self,
        store: &S3Store,
        key: &str,
        source: &str,
        range: (u64, u64),
    ) -> Result<(), BlobError> {
        let number = self.parts.len() as i32 + 1;
        let copied = store
            .client
            .upload_part_copy()
            .bucket(&store.bucket)
            .key(key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .copy_source(format!("{}/{}", store.bucket, source))
            .copy_source_range(format!("bytes={}-{}", range.0, range.1 - 1))
            .send()
            .await
            .map_err(BlobError::s3)?;
        let etag = copied
            .copy_part_result()
            .and_then(|r| r.e_tag())
            .map(str::to_owned);
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(etag)
                .build(),
        );
        Ok(())
    }

    pub(crate) async fn complete(&mut self, store: &S3Store, key: &str) -> Result<(), BlobError> {
        let parts = CompletedMultipartUpload::builder()
            .set_parts(Some(std::mem::take(&mut self.parts)))
            .build();
        store
            .client
            .complete_multipart_upload()
            .bucket(&store.bucket)
            .key(key)
            .upload_id(&self.upload_id)
            .multipart_upload(parts)
            .send()
            .await
            .map_err(BlobError::s3)?;
        Ok(())
    }

    /// Passes `outcome` on, aborting the upload first if it failed, so no
    /// orphaned parts are left.
    pub(crate) async fn settle(
        self,
        store: &S3Store,
        key: &str,
        outcome: Result<(), BlobError>,
    ) -> Result<(), BlobError> {
        if outcome.is_err() {
            self.abort(store, key).await;
        }
        outcome
    }

    async fn abort(self, store: &S3Store, key: &str) {
        let aborted = store
            .client
            .abort_multipart_upload()
            .bucket(&store.bucket)
            .key(key)
            .upload_id(&self.upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            tracing::warn!(key, error = %e, "could not abort a multipart upload; a bucket lifecycle rule will reap it");
        }
    }
}
