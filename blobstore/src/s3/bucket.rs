//! The bucket and the client that reaches it: connecting (creating the
//! bucket if missing) and ranged reads. The bottom of the S3 adapter.

use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::Client;

use crate::{validate_key, BlobError};

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

/// A connected client and the bucket it writes to.
#[derive(Clone, Debug)]
pub(crate) struct Bucket {
    pub(crate) client: Client,
    pub(crate) name: String,
    /// Bodies larger than this go up in parts this size.
    pub(crate) part_size: usize,
}

impl Bucket {
    /// Builds the client; creates the bucket if it does not exist yet.
    pub(crate) async fn connect(config: S3Config) -> Result<Self, BlobError> {
        let mut loader = aws_config::from_env().region(Region::new(config.region.clone()));
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            loader =
                loader.credentials_provider(Credentials::new(id, secret, None, None, "imagegram-settings"));
        }
        let shared = loader.load().await;
        // Every socket has a time limit: a store that stops answering
        // fails the call (transient: 503 upstream) instead of hanging it.
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(3))
            .read_timeout(std::time::Duration::from_secs(30))
            .build();
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(config.path_style)
            .timeout_config(timeouts);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let bucket = Bucket {
            client: Client::from_conf(builder.build()),
            name: config.bucket,
            part_size: config.part_size.max(5 * 1024 * 1024),
        };
        bucket.ensure_bucket().await?;
        Ok(bucket)
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
            .bucket(&self.name)
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
        if self.client.head_bucket().bucket(&self.name).send().await.is_ok() {
            return Ok(());
        }
        match self.client.create_bucket().bucket(&self.name).send().await {
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
