//! The contract suite against S3. Needs `IMAGEGRAM_TEST_S3_ENDPOINT` (CI
//! starts moto and sets it); without it every test says it skipped.

mod contract;

use std::sync::Arc;

use imagegram_blobstore::s3::{S3Config, S3Store};
use imagegram_blobstore::BlobStore;

async fn s3() -> Option<Arc<dyn BlobStore>> {
    let endpoint = std::env::var("IMAGEGRAM_TEST_S3_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    let mut config = S3Config::new("imagegram-contract");
    config.endpoint = Some(endpoint);
    config.path_style = true;
    config.access_key_id = Some("test".into());
    config.secret_access_key = Some("test".into());
    config.part_size = 5 * 1024 * 1024;
    Some(Arc::new(S3Store::connect(config).await.expect("s3 store")))
}

blob_contract_suite!(s3().await);
