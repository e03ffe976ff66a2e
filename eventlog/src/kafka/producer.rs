//! The idempotent producer.

use futures::future::try_join_all;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

use super::context::Logs;
use super::KafkaConfig;
use crate::{partition_for, Appended, LogError, Record};

pub(super) fn build(config: &KafkaConfig) -> Result<FutureProducer<Logs>, LogError> {
    config
        .client()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set(
            "message.timeout.ms",
            config.delivery_timeout.as_millis().max(1).to_string(),
        )
        .create_with_context(Logs::default())
        .map_err(LogError::kafka)
}

/// Sends every record and waits until all are acknowledged by all in-sync replicas.
pub(super) async fn append(
    producer: &FutureProducer<Logs>,
    topic: &str,
    partitions: u32,
    records: Vec<Record>,
) -> Result<Vec<Appended>, LogError> {
    let mut pending = Vec::with_capacity(records.len());
    for record in &records {
        let partition = partition_for(&record.key, partitions);
        let mut message = FutureRecord::to(topic)
            .key(&record.key)
            .payload(&record.value)
            .partition(partition as i32);
        // Enqueue now, in order, so records with the same key keep their
        // order; wait for room when librdkafka's local queue is full.
        let delivery = loop {
            match producer.send_result(message) {
                Ok(delivery) => break delivery,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    message = back;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(LogError::kafka(e)),
            }
        };
        pending.push(delivery);
    }
    let delivered = try_join_all(pending.into_iter().map(|d| async move {
        match d.await {
            Ok(Ok(delivery)) => Ok(Appended {
                partition: delivery.partition as u32,
                offset: delivery.offset as u64,
            }),
            Ok(Err((e, _))) => Err(LogError::kafka(e)),
            Err(_) => Err(LogError::Closed),
        }
    }))
    .await?;
    Ok(delivered)
}
