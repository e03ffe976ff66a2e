//! One S3 multipart upload: parts sent or copied in order, then completed;
//! aborted on failure, so no orphaned parts are left behind.

use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::bucket::Bucket;
use crate::BlobError;

/// A multipart upload under way.
pub(crate) struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

impl Multipart {
    pub(crate) async fn start(bucket: &Bucket, key: &str) -> Result<Self, BlobError> {
        let created = bucket
            .client
            .create_multipart_upload()
            .bucket(&bucket.name)
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
        bucket: &Bucket,
        key: &str,
        body: S3Body,
    ) -> Result<(), BlobError> {
        let number = self.parts.len() as i32 + 1;
        let sent = bucket
            .client
            .upload_part()
            .bucket(&bucket.name)
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
        bucket: &Bucket,
        key: &str,
        source: &str,
        range: (u64, u64),
    ) -> Result<(), BlobError> {
        let number = self.parts.len() as i32 + 1;
        let copied = bucket
            .client
            .upload_part_copy()
            .bucket(&bucket.name)
            .key(key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .copy_source(format!("{}/{}", bucket.name, source))
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

    pub(crate) async fn complete(&mut self, bucket: &Bucket, key: &str) -> Result<(), BlobError> {
        let parts = CompletedMultipartUpload::builder()
            .set_parts(Some(std::mem::take(&mut self.parts)))
            .build();
        bucket
            .client
            .complete_multipart_upload()
            .bucket(&bucket.name)
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
        bucket: &Bucket,
        key: &str,
        outcome: Result<(), BlobError>,
    ) -> Result<(), BlobError> {
        if outcome.is_err() {
            self.abort(bucket, key).await;
        }
        outcome
    }

    /// Aborts the upload. If S3 is away, it keeps trying in the background
    /// (every 5 s at most, for up to ten minutes), so an outage that broke
    /// the upload does not leave its parts behind; past that, the orphan
    /// sweep and a bucket lifecycle rule reap it.
    async fn abort(self, bucket: &Bucket, key: &str) {
        if let Err(e) = abort_once(bucket, key, &self.upload_id).await {
            tracing::warn!(key, error = %e, "could not abort a multipart upload; retrying in the background");
            let (bucket, key, id) = (bucket.clone(), key.to_owned(), self.upload_id);
            tokio::spawn(async move {
                let mut wait = std::time::Duration::from_secs(1);
                let give_up = tokio::time::Instant::now() + ABORT_PATIENCE;
                while tokio::time::Instant::now() < give_up {
                    tokio::time::sleep(wait).await;
                    match abort_once(&bucket, &key, &id).await {
                        Ok(()) => return,
                        Err(e) if !e.is_transient() => break,
                        Err(_) => wait = (wait * 2).min(std::time::Duration::from_secs(5)),
                    }
                }
                tracing::warn!(
                    key,
                    "gave up aborting a multipart upload; the orphan sweep will reap it"
                );
            });
        }
    }
}

/// How long a failed abort is retried in the background.
const ABORT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(600);

async fn abort_once(bucket: &Bucket, key: &str, upload_id: &str) -> Result<(), BlobError> {
    bucket
        .client
        .abort_multipart_upload()
        .bucket(&bucket.name)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
        .map(drop)
        .map_err(BlobError::s3)
}
