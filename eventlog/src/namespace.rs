//! A namespace on a shared cluster: every topic and consumer group name gets
//! a prefix on the way in, and loses it on the way out, so several
//! deployments (staging and production, or parallel test runs) can share one
//! Kafka cluster without seeing each other's events.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::{Appended, Delivered, EventLog, GroupReader, LogError, LogReader, Position, Record, TopicSpec};

pub struct Namespaced {
    inner: Arc<dyn EventLog>,
    prefix: String,
}

impl Namespaced {
    /// Wraps `inner`; an empty prefix changes nothing.
    pub fn wrap(inner: Arc<dyn EventLog>, prefix: &str) -> Arc<dyn EventLog> {
        if prefix.is_empty() {
            return inner;
        }
        Arc::new(Namespaced {
            inner,
            prefix: prefix.to_owned(),
        })
    }

    fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

fn strip(prefix: &str, mut records: Vec<Delivered>) -> Vec<Delivered> {
    for record in &mut records {
        if let Some(bare) = record.topic.strip_prefix(prefix) {
            record.topic = Arc::from(bare);
        }
    }
    records
}

#[async_trait]
impl EventLog for Namespaced {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn create_topics(&self, topics: &[TopicSpec]) -> Result<(), LogError> {
        let named: Vec<TopicSpec> = topics
            .iter()
            .map(|t| TopicSpec::new(self.name(&t.name), t.partitions))
            .collect();
        self.inner.create_topics(&named).await
    }

    async fn partitions(&self, topic: &str) -> Result<u32, LogError> {
        self.inner.partitions(&self.name(topic)).await
    }

    async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Appended>, LogError> {
        self.inner.append(&self.name(topic), records).await
    }

    async fn end_offsets(&self, topic: &str) -> Result<Vec<u64>, LogError> {
        self.inner.end_offsets(&self.name(topic)).await
    }

    async fn committed_offsets(&self, group: &str, topic: &str) -> Result<Vec<u64>, LogError> {
        self.inner
            .committed_offsets(&self.name(group), &self.name(topic))
            .await
    }

    async fn read_from(&self, positions: Vec<Position>) -> Result<Box<dyn LogReader>, LogError> {
        let named = positions
            .into_iter()
            .map(|p| Position::new(self.name(&p.topic), p.partition, p.offset))
            .collect();
        let inner = self.inner.read_from(named).await?;
        Ok(Box::new(Reader {
            inner,
            prefix: self.prefix.clone(),
        }))
    }

    async fn join_group(&self, group: &str, topics: &[String]) -> Result<Box<dyn GroupReader>, LogError> {
        let named: Vec<String> = topics.iter().map(|t| self.name(t)).collect();
        let inner = self.inner.join_group(&self.name(group), &named).await?;
        Ok(Box::new(Member {
            inner,
            prefix: self.prefix.clone(),
        }))
    }

    async fn check(&self) -> Result<(), LogError> {
        self.inner.check().await
    }

    fn side_tables(&self) -> Option<crate::embedded::SideTables> {
        self.inner.side_tables()
    }
}

struct Reader {
    inner: Box<dyn LogReader>,
    prefix: String,
}

#[async_trait]
impl LogReader for Reader {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivered>, LogError> {
        Ok(strip(&self.prefix, self.inner.poll(max, wait).await?))
    }
}

struct Member {
    inner: Box<dyn GroupReader>,
    prefix: String,
}

#[async_trait]
impl LogReader for Member {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivered>, LogError> {
        Ok(strip(&self.prefix, self.inner.poll(max, wait).await?))
    }
}

#[async_trait]
impl GroupReader for Member {
    async fn commit(&mut self, positions: &[Position]) -> Result<(), LogError> {
        let named: Vec<Position> = positions
            .iter()
            .map(|p| Position::new(format!("{}{}", self.prefix, p.topic), p.partition, p.offset))
            .collect();
        self.inner.commit(&named).await
    }

    fn assignment(&self) -> Vec<(String, u32)> {
        self.inner
            .assignment()
            .into_iter()
            .map(|(t, p)| (t.strip_prefix(&self.prefix).map(str::to_owned).unwrap_or(t), p))
            .collect()
    }
}
