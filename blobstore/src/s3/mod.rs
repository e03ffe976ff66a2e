//! Blobs in S3 or any S3-compatible store.

use async_trait::async_trait;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::Client;
use bytes::Bytes;

use crate::s3_compose::compose;
use crate::s3_upload::upload;
use crate::{validate_key, BlobError, BlobStore, ByteStream};

/// Where the bucket is and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// For S3-compatible stores (MinIO, moto): `http://host:port`.
    pub endpoint: Option<String>,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`.
    pub path_style: bool,
    /// Static keys; without them the standard AWS chain is used
    /// (environment, profile, instance or pod role).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Bodies larger than this go up as multipart uploads of parts this size.
    pub part_size: usize,
}

impl S3Config {
    pub fn new(bucket: impl Into<String>) -> Self {
        S3Config {
            bucket: bucket.into(),
            region: "us-east-1".into(),
            endpoint: None,
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            part_size: 8 * 1024 * 1024,
        }
    }
}

/// The S3 adapter.
#[derive(Clone, Debug)]
pub struct S3Store {
    pub(crate) client: Client,
    pub(crate) bucket: String,
    pub(crate) part_size: usize,
}

impl S3Store {
    /// Builds the client; creates the bucket if it does not exist yet.
    pub async fn connect(config: S3Config) -> Result<Self, BlobError> {
        let mut loader = aws_config::from_env().region(Region::new(config.region.clone()));
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            loader =
                loader.credentials_provider(Credentials::new(id, secret, None, None, "imagegram-settings"));
        }
        let shared = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&shared).force_path_style(config.path_style);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let store = S3Store {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket,
            part_size: config.part_size.max(5 * 1024 * 1024),
        };
        store.ensure_bucket().await?;
        Ok(store)
    }

    /// The object, or bytes `range` (start, end exclusive) of it.
    pub(crate) async fn fetch(
        &self,
        key: &str,
        range: Option<(u64, u64)>,
    ) -> Result<GetObjectOutput, BlobError> {
        validate_key(key)?;
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range.map(|(start, end)| format!("bytes={start}-{}", end - 1)))
            .send()
            .await;
        object.map_err(|e| {
            let service = e.into_service_error();
            if service.is_no_such_key() {
                BlobError::NotFound(key.to_owned())
            } else {
                BlobError::s3(service)
            }
        })
    }

    async fn ensure_bucket(&self) -> Result<(), BlobError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self.client.create_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let service = e.into_service_error();
                if service.is_bucket_already_owned_by_you() {
                    Ok(())
                } else {
                    Err(BlobError::s3(service))
                }
            }
        }
    }
}

#[async_trait]
impl BlobStore for S3Store {
    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn put_stream(&self, key: &str, body: ByteStream, limit: u64) -> Result<u64, BlobError> {
        validate_key(key)?;
        upload(self, key, body, limit).await
    }

    async fn get(&self, key: &str) -> Result<Bytes, BlobError> {
        let object = self.fetch(key, None).await?;
        let data = object.body.collect().await.map_err(BlobError::s3_body)?;
        Ok(data.into_bytes())
    }

    async fn get_stream(&self, key: &str) -> Result<ByteStream, BlobError> {
        let body = self.fetch(key, None).await?.body;
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
            .client
            .head_object()
            .bucket(&self.bucket)
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
        let source = format!("{}/{}", self.bucket, from);
        let copied = self
            .client
            .copy_object()
            .bucket(&self.bucket)
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
    /// gathered into parts here (see `s3_compose`).
    async fn compose(&self, sources: &[(String, u64)], to: &str) -> Result<u64, BlobError> {
        validate_key(to)?;
        for (key, _) in sources {
            validate_key(key)?;
        }
        compose(self, sources, to).await
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(BlobError::s3)?;
        Ok(())
    }

    async fn check(&self) -> Result<(), BlobError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(BlobError::s3)?;
        Ok(())
    }
}
