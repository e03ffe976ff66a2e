//! The contract suite against SQLite (the embedded read store).

mod contract;

use std::sync::Arc;

use imagegram_readstore::{ReadStore, SqlStore};

async fn sqlite() -> Option<Arc<dyn ReadStore>> {
    // Leaked on purpose: the file must outlive the pool in the test.
    let dir = Box::leak(Box::new(tempfile::tempdir().expect("temp dir")));
    Some(Arc::new(
        SqlStore::sqlite(&dir.path().join("read.db"))
            .await
            .expect("sqlite store"),
    ))
}

read_contract_suite!(sqlite().await);
