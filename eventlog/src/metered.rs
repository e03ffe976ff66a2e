//! Appends counted and timed, whichever backend takes them: the events
//! appended per topic and how long each append took to be acknowledged
//! (fsynced, or acknowledged by every in-sync replica).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::{Appended, EventLog, GroupReader, LogError, LogReader, Position, Record, TopicSpec};

pub const EVENTS_APPENDED: &str = "imagegram_events_appended_total";
pub const APPEND_DURATION: &str = "imagegram_log_append_duration_seconds";

/// Gives the log's metrics their help texts (once the recorder is installed).
pub fn describe() {
    metrics::describe_counter!(
        EVENTS_APPENDED,
        "Events appended to the log and acknowledged, by topic."
    );
    metrics::describe_histogram!(
        APPEND_DURATION,
        metrics::Unit::Seconds,
        "Time from an append to its acknowledgement (or failure), by topic and outcome."
    );
    metrics::describe_counter!(
        crate::embedded::STORAGE_REFUSALS,
        "Requests refused because a store could not write (a full disk, an I/O error), by store."
    );
    metrics::describe_gauge!(
        crate::lag::CONSUMER_LAG,
        "Records a consumer has yet to finish: a partition's end offset minus the consumer's position."
    );
}

/// A log whose appends are counted in the process's metrics.
pub struct Metered {
    inner: Arc<dyn EventLog>,
}

impl Metered {
    pub fn wrap(inner: Arc<dyn EventLog>) -> Arc<dyn EventLog> {
        Arc::new(Metered { inner })
    }
}

#[async_trait]
impl EventLog for Metered {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn create_topics(&self, topics: &[TopicSpec]) -> Result<(), LogError> {
        self.inner.create_topics(topics).await
    }

    async fn partitions(&self, topic: &str) -> Result<u32, LogError> {
        self.inner.partitions(topic).await
    }

    async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Appended>, LogError> {
        let started = Instant::now();
        let count = records.len() as u64;
        let appended = self.inner.append(topic, records).await;
        let outcome = if appended.is_ok() { "ok" } else { "failed" };
        metrics::histogram!(APPEND_DURATION, "topic" => topic.to_owned(), "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        if appended.is_ok() {
            metrics::counter!(EVENTS_APPENDED, "topic" => topic.to_owned()).increment(count);
        }
        appended
    }

    async fn end_offsets(&self, topic: &str) -> Result<Vec<u64>, LogError> {
        self.inner.end_offsets(topic).await
    }

    async fn committed_offsets(&self, group: &str, topic: &str) -> Result<Vec<u64>, LogError> {
        self.inner.committed_offsets(group, topic).await
    }

    async fn read_from(&self, positions: Vec<Position>) -> Result<Box<dyn LogReader>, LogError> {
        self.inner.read_from(positions).await
    }

    async fn join_group(&self, group: &str, topics: &[String]) -> Result<Box<dyn GroupReader>, LogError> {
        self.inner.join_group(group, topics).await
    }

    async fn check(&self) -> Result<(), LogError> {
        self.inner.check().await
    }

    fn side_tables(&self) -> Option<crate::embedded::SideTables> {
        self.inner.side_tables()
    }
}
