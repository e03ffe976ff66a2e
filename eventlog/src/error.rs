use thiserror::Error;

/// Everything the event log can fail with.
#[derive(Debug, Error)]
pub enum LogError {
    /// The topic was never created.
    #[error("topic {0} does not exist")]
    UnknownTopic(String),
    /// A position names a partition the topic does not have.
    #[error("topic {topic} has {partitions} partitions, there is no partition {partition}")]
    UnknownPartition {
        topic: String,
        partition: u32,
        partitions: u32,
    },
    /// The same topic was created earlier with another partition count.
    #[error("topic {topic} exists with {existing} partitions, {wanted} were asked for")]
    PartitionMismatch {
        topic: String,
        existing: u32,
        wanted: u32,
    },
    /// The embedded store failed (disk full, corruption, I/O).
    #[error("embedded log storage: {0}")]
    Storage(String),
    /// Another process has the embedded log open (it belongs to one).
    #[error("the embedded log {0} is open in another process")]
    InUse(String),
    /// The Kafka client or broker failed.
    #[error("kafka: {0}")]
    Kafka(String),
    /// The log is shutting down; nothing more is accepted.
    #[error("the event log is closed")]
    Closed,
}

impl LogError {
    pub(crate) fn storage(e: impl std::fmt::Display) -> Self {
        LogError::Storage(e.to_string())
    }

    pub(crate) fn kafka(e: impl std::fmt::Display) -> Self {
        LogError::Kafka(e.to_string())
    }
}
