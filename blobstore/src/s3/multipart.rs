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

    async fn abort(self, bucket: &Bucket, key: &str) {
        let aborted = bucket
            .client
            .abort_multipart_upload()
            .bucket(&bucket.name)
            .key(key)
            .upload_id(&self.upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            tracing::warn!(key, error = %e, "could not abort a multipart upload; a bucket lifecycle rule will reap it");
        }
    }
}
