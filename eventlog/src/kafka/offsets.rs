//! End offsets (high watermarks) of a topic's partitions, the offset the
//! next record appended to each will get, and a group's committed offsets. While a partition's leader is
//! being elected (a broker just started or failed over) the answer is an
//! error a moment later retried, within the metadata time-out.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::{KafkaConfig, METADATA_TIMEOUT};
use crate::LogError;

pub(super) async fn end_offsets(
    producer: &FutureProducer<super::context::Logs>,
    topic: &str,
    partitions: u32,
) -> Result<Vec<u64>, LogError> {
    let (producer, name) = (producer.clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
        (0..partitions)
            .map(|p| {
                let deadline = Instant::now() + METADATA_TIMEOUT;
                loop {
                    match producer
                        .client()
                        .fetch_watermarks(&name, p as i32, METADATA_TIMEOUT)
                    {
                        Ok((_, high)) => return Ok(high.max(0) as u64),
                        Err(e) => {
                            let e = LogError::kafka(e);
                            if !e.is_transient() || Instant::now() >= deadline {
                                return Err(e);
                            }
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            })
            .collect::<Result<Vec<u64>, LogError>>()
    })
    .await
    .map_err(LogError::kafka)?
}

/// Where `group` last committed in each partition of `topic`, asked of its
/// coordinator by a consumer that names the group but never joins it.
pub(super) async fn committed_offsets(
    config: &KafkaConfig,
    group: &str,
    topic: &str,
    partitions: u32,
) -> Result<Vec<u64>, LogError> {
    let consumer: BaseConsumer<super::context::Logs> = config
        .client()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create_with_context(super::context::Logs::default())
        .map_err(LogError::kafka)?;
    let mut wanted = TopicPartitionList::new();
    for p in 0..partitions {
        wanted.add_partition(topic, p as i32);
    }
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        // A group the cluster has not seen yet has no coordinator for a
        // moment ("not coordinator"): asked again until it has.
        let deadline = Instant::now() + METADATA_TIMEOUT;
        let committed = loop {
            match consumer.committed_offsets(wanted.clone(), METADATA_TIMEOUT) {
                Ok(committed) => break committed,
                Err(e) => {
                    let e = LogError::kafka(e);
                    if !e.is_transient() || Instant::now() >= deadline {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        Ok((0..partitions)
            .map(
                |p| match committed.find_partition(&topic, p as i32).map(|e| e.offset()) {
                    Some(Offset::Offset(at)) => at.max(0) as u64,
                    _ => 0,
                },
            )
            .collect())
    })
    .await
    .map_err(LogError::kafka)?
}
