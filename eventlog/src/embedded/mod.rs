//! The embedded log: durable, single-node, inside the process.
//!
//! One redb file holds every partition as a table of `offset → record`, the
//! topic list, and the consumer groups' committed positions. Writes go
//! through one writer thread that folds every request waiting at that moment
//! into one transaction and one fsync (group commit); readers use redb's MVCC
//! snapshots and are woken when a commit lands. Other components may keep
//! tables of their own in the file, written in the same commits
//! ([`SideTables`]).

mod file;
mod group;
mod handle;
mod layout;
mod reader;
mod side;
mod store;
mod writer;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{Appended, EventLog, GroupReader, LogError, LogReader, Position, Record, TopicSpec};

pub use layout::Durability;
pub use side::{Apply, Ended, Rider, SideTables, SideWrite};
pub use writer::STORAGE_REFUSALS;

/// The embedded event log. Cheap to clone; all clones share one store.
#[derive(Clone)]
pub struct EmbeddedLog {
    store: Arc<store::Store>,
    groups: Arc<group::Coordinator>,
}

impl EmbeddedLog {
    /// Opens (or creates) the log in `dir`, recovering from any crash.
    pub fn open(dir: &Path, durability: Durability) -> Result<Self, LogError> {
        let store = store::Store::open(dir, durability)?;
        Ok(EmbeddedLog {
            store: Arc::new(store),
            groups: Arc::new(group::Coordinator::default()),
        })
    }
}

#[async_trait]
impl EventLog for EmbeddedLog {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn create_topics(&self, topics: &[TopicSpec]) -> Result<(), LogError> {
        self.store.create_topics(topics.to_vec()).await
    }

    async fn partitions(&self, topic: &str) -> Result<u32, LogError> {
        self.store.partitions(topic)
    }

    async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Appended>, LogError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.store.append(topic, records).await
    }

    async fn end_offsets(&self, topic: &str) -> Result<Vec<u64>, LogError> {
        let store = Arc::clone(&self.store);
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || store.end_offsets(&topic))
            .await
            .map_err(LogError::storage)?
    }

    async fn committed_offsets(&self, group: &str, topic: &str) -> Result<Vec<u64>, LogError> {
        let partitions = self.store.partitions(topic)?;
        (0..partitions)
            .map(|p| self.store.committed_offset(group, topic, p))
            .collect()
    }

    async fn read_from(&self, positions: Vec<Position>) -> Result<Box<dyn LogReader>, LogError> {
        for p in &positions {
            self.store.check_partition(&p.topic, p.partition)?;
        }
        Ok(Box::new(reader::EmbeddedReader::new(
            Arc::clone(&self.store),
            positions,
        )))
    }

    async fn join_group(&self, group: &str, topics: &[String]) -> Result<Box<dyn GroupReader>, LogError> {
        for topic in topics {
            self.store.partitions(topic)?;
        }
        let member = group::Member::join(Arc::clone(&self.groups), Arc::clone(&self.store), group, topics);
        Ok(Box::new(member))
    }

    async fn check(&self) -> Result<(), LogError> {
        self.store.check()
    }

    fn side_tables(&self) -> Option<SideTables> {
        Some(SideTables {
            store: Arc::clone(&self.store),
        })
    }
}
