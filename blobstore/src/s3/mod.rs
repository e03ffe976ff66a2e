//! Blobs in S3 or any S3-compatible store.

use async_trait::async_trait;
use bytes::Bytes;

mod bucket;
mod compose;
mod multipart;
mod upload;

pub use bucket::S3Config;

use crate::port::compose_by_streaming;
use crate::{validate_key, validate_prefix, BlobError, BlobStore, ByteStream, Listed};
use bucket::Bucket;

/// The S3 adapter.
#[derive(Clone, Debug)]
pub struct S3Store(Bucket);

impl S3Store {
    /// Builds the client; creates the bucket if it does not exist yet.
    pub async fn connect(config: S3Config) -> Result<Self, BlobError> {
        Bucket::connect(config).await.map(S3Store)
    }
}

#[async_trait]
impl BlobStore for S3Store {
    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn put_stream(&self, key: &str, body: ByteStream, limit: u64) -> Result<u64, BlobError> {
        validate_key(key)?;
        upload::upload(&self.0, key, body, limit).await
    }

    async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        let object = self.0.fetch(key, None).await?;
        let data = object.body.collect().await.map_err(BlobError::s3_body)?;
        Ok(data.into_bytes())
    }

    async fn get_stream(&self, key: &str) -> Result<ByteStream, BlobError> {
        let body = self.0.fetch(key, None).await?.body;
        Ok(Box::pin(futures::stream::try_unfold(
            body,
            |mut body| async move {
                match body.try_next().await {
                    Ok(Some(chunk)) => Ok(Some((chunk, body))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(std::io::Error::other(e)),
                }
            },
        )))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        validate_key(key)?;
        match self
            .0
            .client
            .head_object()
            .bucket(&self.0.name)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(head.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_not_found() {
                    Ok(None)
                } else {
                    Err(BlobError::s3(service))
                }
            }
        }
    }

    /// A server-side copy then a delete: no bytes pass through us.
    async fn rename(&self, from: &str, to: &str) -> Result<(), BlobError> {
        validate_key(from)?;
        validate_key(to)?;
        let source = format!("{}/{}", self.0.name, from);
        let copied = self
            .0
            .client
            .copy_object()
            .bucket(&self.0.name)
            .key(to)
            .copy_source(source)
            .send()
            .await;
        if let Err(e) = copied {
            let service = e.into_service_error();
            return Err(if service.meta().code() == Some("NoSuchKey") {
                BlobError::NotFound(from.to_owned())
            } else {
                BlobError::s3(service)
            });
        }
        self.delete(from).await
    }

    /// Large sources become parts by server-side copy; small ones are
    /// gathered into parts here (see `compose.rs`).
    async fn compose(&self, sources: &[(String, u64)], to: &str) -> Result<u64, BlobError> {
        validate_key(to)?;
        for (key, _) in sources {
            validate_key(key)?;
        }
        let total: u64 = sources.iter().map(|(_, size)| size).sum();
        if total <= self.0.part_size as u64 {
            // One request's worth: a plain PutObject beats three multipart calls.
            return compose_by_streaming(self, sources, to).await;
        }
        compose::compose(&self.0, sources, to, total).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        self.0
            .client
            .delete_object()
            .bucket(&self.0.name)
            .key(key)
            .send()
            .await
            .map_err(BlobError::s3)?;
        Ok(())
    }

    async fn list_older(&self, prefix: &str, before: i64, limit: usize) -> Result<Vec<Listed>, BlobError> {
        validate_prefix(prefix)?;
        let mut found = Vec::new();
        let mut pages = self
            .0
            .client
            .list_objects_v2()
            .bucket(&self.0.name)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(BlobError::s3)?;
            for object in page.contents() {
                let modified = object.last_modified().map_or(0, micros);
                if let (Some(key), true) = (object.key(), modified < before) {
                    found.push(Listed {
                        key: key.to_owned(),
                        size: object.size().unwrap_or(0).max(0) as u64,
                        modified,
                    });
                    if found.len() >= limit {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(found)
    }

    /// Multipart uploads begun before `before` and never completed or
    /// aborted (their parts are stored, and billed, until then).
    async fn drop_abandoned_writes(&self, before: i64) -> Result<u64, BlobError> {
        let listed = self
            .0
            .client
            .list_multipart_uploads()
            .bucket(&self.0.name)
            .send()
            .await
            .map_err(BlobError::s3)?;
        let mut dropped = 0;
        for upload in listed.uploads() {
            let begun = upload.initiated().map_or(0, micros);
            let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
                continue;
            };
            if begun >= before {
                continue;
            }
            self.0
                .client
                .abort_multipart_upload()
                .bucket(&self.0.name)
                .key(key)
                .upload_id(id)
                .send()
                .await
                .map_err(BlobError::s3)?;
            dropped += 1;
        }
        Ok(dropped)
    }

    async fn check(&self) -> Result<(), BlobError> {
        self.0
            .client
            .head_bucket()
            .bucket(&self.0.name)
            .send()
            .await
            .map_err(BlobError::s3)?;
        Ok(())
    }
}

/// An S3 time in microseconds since the epoch.
fn micros(time: &aws_sdk_s3::primitives::DateTime) -> i64 {
    time.secs().saturating_mul(1_000_000) + i64::from(time.subsec_nanos() / 1_000)
}
