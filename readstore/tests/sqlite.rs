//! The contract suite against SQLite (the embedded read store: the read
//! model in one file, request records and upload sessions in another, the
//! idempotency keys in the embedded log's file).

mod contract;

use imagegram_eventlog::embedded::{Durability, EmbeddedLog};
use imagegram_readstore::ReadStores;

async fn sqlite() -> Option<ReadStores> {
    // Leaked on purpose: the file must outlive the pool in the test.
    let dir = Box::leak(Box::new(tempfile::tempdir().expect("temp dir")));
    let log = EmbeddedLog::open(&dir.path().join("log"), Durability::Fsync).expect("embedded log");
    Some(
        ReadStores::embedded(dir.path(), &log)
            .await
            .expect("sqlite stores"),
    )
}

read_contract_suite!(sqlite().await);

/// Every port in one SQLite file, as `SqlStore` gives them: its own
/// idempotency keys (in the embedded mode they are in the log's file).
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
