//! Where blobs and read tables live: settings and opening.

use std::sync::Arc;

use clap::{Args, ValueEnum};
use imagegram_blobstore::s3::S3Config;
use imagegram_blobstore::{BlobConfig, BlobStore};
use imagegram_eventlog::EventLog;
use imagegram_readstore::{ReadStores, SqlStore};

use crate::settings::CommonSettings;
use crate::PlatformError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BlobBackend {
    /// Files under the data dir.
    Files,
    /// S3 or an S3-compatible store.
    S3,
}

/// The blob store.
#[derive(Debug, Clone, Args)]
pub struct BlobSettings {
    /// Where originals and converted images are kept.
    #[arg(long = "blob-store", env = "IMAGEGRAM_BLOB_STORE", value_enum, default_value_t = BlobBackend::Files, global = true)]
    pub blob_store: BlobBackend,
    /// S3 bucket (originals under `originals/`, served JPEGs under `images/`).
    #[arg(long, env = "IMAGEGRAM_S3_BUCKET", default_value = "imagegram", global = true)]
    pub s3_bucket: String,
    #[arg(long, env = "IMAGEGRAM_S3_REGION", default_value = "us-east-1", global = true)]
    pub s3_region: String,
    /// Endpoint of an S3-compatible store, e.g. `http://127.0.0.1:9000`.
    #[arg(long, env = "IMAGEGRAM_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), as MinIO and moto want.
    #[arg(long, env = "IMAGEGRAM_S3_PATH_STYLE", default_value_t = false, global = true)]
    pub s3_path_style: bool,
    /// Static credentials; without them the standard AWS chain is used.
    #[arg(long, env = "IMAGEGRAM_S3_ACCESS_KEY_ID", global = true)]
    pub s3_access_key_id: Option<String>,
    #[arg(
        long,
        env = "IMAGEGRAM_S3_SECRET_ACCESS_KEY",
        global = true,
        hide_env_values = true
    )]
    pub s3_secret_access_key: Option<String>,
}

impl BlobSettings {
    pub async fn open(&self, common: &CommonSettings) -> Result<Arc<dyn BlobStore>, PlatformError> {
        let config = match self.blob_store {
            BlobBackend::Files => BlobConfig::Files {
                root: common.data_dir.join("blobs"),
            },
            BlobBackend::S3 => {
                let mut s3 = S3Config::new(&self.s3_bucket);
                s3.region = self.s3_region.clone();
                s3.endpoint = self.s3_endpoint.clone();
                s3.path_style = self.s3_path_style;
                s3.access_key_id = self.s3_access_key_id.clone();
                s3.secret_access_key = self.s3_secret_access_key.clone();
                BlobConfig::S3(s3)
            }
        };
        Ok(imagegram_blobstore::open(&config).await?)
    }
}

/// The read database.
#[derive(Debug, Clone, Args)]
pub struct StoreSettings {
    /// `mysql://user:pass@host/db` or `sqlite://path`; default: SQLite in the data dir.
    #[arg(long, env = "IMAGEGRAM_DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Connections in the pool.
    #[arg(
        long,
        env = "IMAGEGRAM_DATABASE_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub database_connections: u32,
}

impl StoreSettings {
    /// The read stores; embedded ones keep their idempotency keys in
    /// `log`'s file when it is the embedded log.
    pub async fn open(
        &self,
        common: &CommonSettings,
        log: &dyn EventLog,
    ) -> Result<ReadStores, PlatformError> {
        let stores = match self.database_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => ReadStores::of(SqlStore::connect(url, self.database_connections).await?),
            None => ReadStores::embedded(&common.data_dir, log).await?,
        };
        tracing::info!(backend = stores.model.backend(), "read store ready");
        Ok(stores)
    }
}
