//! The contract suite against SQLite (the embedded read store: the read
//! model in one file, request records and upload sessions in another).

mod contract;

use imagegram_readstore::ReadStores;

async fn sqlite() -> Option<ReadStores> {
    // Leaked on purpose: the file must outlive the pool in the test.
    let dir = Box::leak(Box::new(tempfile::tempdir().expect("temp dir")));
    Some(ReadStores::embedded(dir.path()).await.expect("sqlite stores"))
}

read_contract_suite!(sqlite().await);

/// Every port in one SQLite file, as `SqlStore` gives them: its own
/// idempotency keys (in the embedded mode they are in `keys.redb`).
mod one_file {
    use super::contract;
    use imagegram_readstore::{ReadStores, SqlStore};

    async fn sqlite() -> Option<ReadStores> {
        let dir = Box::leak(Box::new(tempfile::tempdir().expect("temp dir")));
        let store = SqlStore::sqlite(&dir.path().join("all.db"))
            .await
            .expect("sqlite");
        Some(ReadStores::of(store))
    }

    crate::read_contract_suite!(sqlite().await);
}
