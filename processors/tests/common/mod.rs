//! What the processor tests share: an embedded log with every topic, and a
//! SQLite read store, under one temporary directory.

use std::path::Path;
use std::sync::Arc;

use imagegram_eventlog::embedded::{Durability, EmbeddedLog};
use imagegram_eventlog::{EventLog, TopicSpec};
use imagegram_readstore::{ReadStore, SqlStore};
use imagegram_schemas::topics;

pub async fn log_and_store(dir: &Path) -> (Arc<dyn EventLog>, Arc<dyn ReadStore>) {
    let log: Arc<dyn EventLog> =
        Arc::new(EmbeddedLog::open(&dir.join("log"), Durability::Process).expect("log"));
    let specs: Vec<TopicSpec> = topics::all()
        .iter()
        .map(|t| TopicSpec::new(t.name, t.partitions))
        .collect();
    log.create_topics(&specs).await.expect("topics");
    let store: Arc<dyn ReadStore> = Arc::new(SqlStore::sqlite(&dir.join("read.db")).await.expect("store"));
    (log, store)
}
