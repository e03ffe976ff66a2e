//! The event-log port: what the rest of Imagegram may ask of a log.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::LogError;

/// A topic and its partition count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: u32,
}

impl TopicSpec {
    pub fn new(name: impl Into<String>, partitions: u32) -> Self {
        TopicSpec {
            name: name.into(),
            partitions,
        }
    }
}

/// A record to append. The key decides the partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

impl Record {
    pub fn new(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Record {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Where an appended record was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub partition: u32,
    pub offset: u64,
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub topic: Arc<str>,
    pub partition: u32,
    pub offset: u64,
    /// When the record was appended, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

impl Delivered {
    /// The position just after this record: where to resume once it is done.
    pub fn next_position(&self) -> Position {
        Position {
            topic: self.topic.to_string(),
            partition: self.partition,
            offset: self.offset + 1,
        }
    }
}

/// A place in one partition: the offset of the next record to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
}

impl Position {
    pub fn new(topic: impl Into<String>, partition: u32, offset: u64) -> Self {
        Position {
            topic: topic.into(),
            partition,
            offset,
        }
    }

    /// Offset 0 of every partition of a topic.
    pub fn beginning_of(topic: &str, partitions: u32) -> Vec<Position> {
        (0..partitions).map(|p| Position::new(topic, p, 0)).collect()
    }

    /// The current end of every partition of `topics`: where a reader
    /// that wants only what comes next starts.
    pub async fn ends_of(log: &dyn EventLog, topics: &[&str]) -> Result<Vec<Position>, LogError> {
        let mut positions = Vec::new();
        for &topic in topics {
            let ends = log.end_offsets(topic).await?;
            positions.extend(
                ends.iter()
                    .enumerate()
                    .map(|(p, &end)| Position::new(topic, p as u32, end)),
            );
        }
        Ok(positions)
    }
}

/// A log of topics split into partitions, each an ordered sequence of records.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Short name of the backend, for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Creates the topics that do not exist yet; existing ones are left alone.
    async fn create_topics(&self, topics: &[TopicSpec]) -> Result<(), LogError>;

    /// How many partitions a topic has.
    async fn partitions(&self, topic: &str) -> Result<u32, LogError>;

    /// Appends records to a topic. `Ok` means every record is durably stored
    /// (fsynced, or acknowledged by all in-sync replicas); records with the
    /// same key keep their order.
    async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Appended>, LogError>;

    /// The offset the next record of each partition will get.
    async fn end_offsets(&self, topic: &str) -> Result<Vec<u64>, LogError>;

    /// Where `group` last committed in each partition of `topic`: the
    /// offset it resumes from (0 where it never committed, since a new
    /// group starts at the beginning). Reads only; joins nothing.
    async fn committed_offsets(&self, group: &str, topic: &str) -> Result<Vec<u64>, LogError>;

    /// Reads from the given positions on; partitions not named are not read.
    async fn read_from(&self, positions: Vec<Position>) -> Result<Box<dyn LogReader>, LogError>;

    /// Joins a consumer group: the group's members share the topics'
    /// partitions, and each starts where the group last committed.
    async fn join_group(&self, group: &str, topics: &[String]) -> Result<Box<dyn GroupReader>, LogError>;

    /// Whether the log answers, for readiness checks.
    async fn check(&self) -> Result<(), LogError>;

    /// The embedded log's file, for tables written in its commits (the
    /// embedded idempotency keys); `None` for any other backend.
    fn side_tables(&self) -> Option<crate::embedded::SideTables> {
        None
    }
}

/// Reads records in order within each partition.
#[async_trait]
pub trait LogReader: Send {
    /// At most `max` records; waits up to `wait` when none are ready, and
    /// returns an empty batch if none came.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivered>, LogError>;
}

/// A member of a consumer group.
#[async_trait]
pub trait GroupReader: LogReader {
    /// Records that the group is done with everything before these positions.
    async fn commit(&mut self, positions: &[Position]) -> Result<(), LogError>;

    /// The partitions this member holds now.
    fn assignment(&self) -> Vec<(String, u32)>;
}
