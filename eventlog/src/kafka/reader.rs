//! Kafka readers: assigned (positions from the caller) and group members.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::context::Logs;
use super::KafkaConfig;
use crate::{Delivered, GroupReader, LogError, LogReader, Position};

pub(super) struct KafkaReader {
    consumer: Arc<StreamConsumer<Logs>>,
}

impl KafkaReader {
    /// Reads the given partitions from the given offsets; joins no group and commits nothing.
    pub(super) fn assigned(config: &KafkaConfig, positions: &[Position]) -> Result<Self, LogError> {
        let consumer: StreamConsumer<Logs> = config
            .client()
            // librdkafka wants a group id even for manual assignment; it is never joined.
            .set("group.id", format!("imagegram-reader-{}", uuid::Uuid::new_v4()))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .create_with_context(Logs::default())
            .map_err(LogError::kafka)?;
        let mut list = TopicPartitionList::new();
        for p in positions {
            list.add_partition_offset(&p.topic, p.partition as i32, Offset::Offset(p.offset as i64))
                .map_err(LogError::kafka)?;
        }
        consumer.assign(&list).map_err(LogError::kafka)?;
        Ok(KafkaReader {
            consumer: Arc::new(consumer),
        })
    }

    /// Subscribes as a member of `group`; starts at the group's committed offsets.
    pub(super) fn group(config: &KafkaConfig, group: &str, topics: &[String]) -> Result<Self, LogError> {
        let session_ms = config.session_timeout.as_millis().max(1000);
        let consumer: StreamConsumer<Logs> = config
            .client()
            .set("group.id", group)
            // A static member: after a broker or coordinator outage it
            // rejoins as itself and gets its partitions back at once,
            // instead of the group waiting out its old membership.
            .set(
                "group.instance.id",
                format!("{group}-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", session_ms.to_string())
            .set("heartbeat.interval.ms", (session_ms / 12).max(100).to_string())
            .create_with_context(Logs {
                group: Some(group.to_owned()),
            })
            .map_err(LogError::kafka)?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names).map_err(LogError::kafka)?;
        Ok(KafkaReader {
            consumer: Arc::new(consumer),
        })
    }
}

fn delivered(message: &rdkafka::message::BorrowedMessage<'_>, topic: &mut Option<Arc<str>>) -> Delivered {
    let name = match topic {
        Some(t) if &**t == message.topic() => Arc::clone(t),
        _ => {
            let t: Arc<str> = Arc::from(message.topic());
            *topic = Some(Arc::clone(&t));
            t
        }
    };
    Delivered {
        topic: name,
        partition: message.partition() as u32,
        offset: message.offset() as u64,
        timestamp_ms: message.timestamp().to_millis().unwrap_or(0),
        key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
        value: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
    }
}

#[async_trait]
impl LogReader for KafkaReader {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivered>, LogError> {
        let mut out = Vec::new();
        let mut topic = None;
        let first = match tokio::time::timeout(wait, self.consumer.recv()).await {
            Err(_) => return Ok(out),
            Ok(first) => first.map_err(LogError::kafka)?,
        };
        out.push(delivered(&first, &mut topic));
        drop(first);
        // Take what is already fetched, without waiting for more.
        while out.len() < max {
            match self.consumer.recv().now_or_never() {
                Some(Ok(message)) => out.push(delivered(&message, &mut topic)),
                Some(Err(e)) => return Err(LogError::kafka(e)),
                None => break,
            }
        }
        Ok(out)
    }
}

/// How long a commit of positions may wait for the group coordinator.
const COMMIT_PATIENCE: Duration = Duration::from_secs(10);

#[async_trait]
impl GroupReader for KafkaReader {
    async fn commit(&mut self, positions: &[Position]) -> Result<(), LogError> {
        if positions.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for p in positions {
            list.add_partition_offset(&p.topic, p.partition as i32, Offset::Offset(p.offset as i64))
                .map_err(LogError::kafka)?;
        }
        let consumer = Arc::clone(&self.consumer);
        // librdkafka's synchronous commit waits for the coordinator with
        // no deadline of its own: one sent as the coordinator went away can
        // wait past its return, and the member, not polling meanwhile, got
        // no partitions back (a post stayed unconverted for minutes, about
        // one broker outage in 25). Past the patience the commit is given
        // up for this batch; the records are read again and skipped as
        // processed, and the next batch's commit carries the positions.
        let commit = tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync));
        match tokio::time::timeout(COMMIT_PATIENCE, commit).await {
            Ok(joined) => joined.map_err(LogError::kafka)?.map_err(LogError::kafka),
            Err(_) => Err(LogError::kafka(format!(
                "the group coordinator did not answer a commit within {COMMIT_PATIENCE:?}"
            ))),
        }
    }

    fn assignment(&self) -> Vec<(String, u32)> {
        self.consumer
            .assignment()
            .map(|list| {
                list.elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition() as u32))
                    .collect()
            })
            .unwrap_or_default()
    }
}
