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

/// A claim asks for no commit of its own: the next append's commit
/// carries it. So once an append made after the claim is acknowledged,
/// the claim is on disk too: after a restart the key is still held (its
/// lease runs), not free for another request to take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_is_stored_by_the_next_appends_commit() {
    use imagegram_eventlog::{EventLog, Record, TopicSpec};
    use imagegram_readstore::Claim;
    use std::time::Duration;

    let dir = tempfile::tempdir().expect("temp dir");
    let lease = Duration::from_secs(600);
    {
        let log = EmbeddedLog::open(&dir.path().join("log"), Durability::Fsync).expect("embedded log");
        log.create_topics(&[TopicSpec::new("t", 1)]).await.expect("topic");
        let stores = ReadStores::embedded(dir.path(), &log).await.expect("stores");
        let (claim, durable) = stores
            .keys
            .decide_claim("ann", "k", "h", lease)
            .await
            .expect("decided");
        assert_eq!(claim, Claim::Fresh);
        log.append("t", vec![Record::new("a", "1")])
            .await
            .expect("appended");
        // Dropped unawaited: nothing asks for a commit for the claim.
        drop(durable);
    }
    let log = EmbeddedLog::open(&dir.path().join("log"), Durability::Fsync).expect("reopened");
    let stores = ReadStores::embedded(dir.path(), &log).await.expect("stores");
    assert_eq!(
        stores
            .keys
            .claim_request("ann", "k", "h", lease)
            .await
            .expect("claim"),
        Claim::InFlight,
        "the claim rode the append's commit"
    );
}
