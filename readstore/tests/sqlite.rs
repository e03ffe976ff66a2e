//! The contract suite against SQLite (the embedded read store).

mod contract;

use imagegram_readstore::{ReadStores, SqlStore};

async fn sqlite() -> Option<ReadStores> {
    // Leaked on purpose: the file must outlive the pool in the test.
    let dir = Box::leak(Box::new(tempfile::tempdir().expect("temp dir")));
    Some(ReadStores::of(
        SqlStore::sqlite(&dir.path().join("read.db"))
            .await
            .expect("sqlite store"),
    ))
}

read_contract_suite!(sqlite().await);
