//! End offsets (high watermarks) of a topic's partitions.
//!
//! Tansu answers ListOffsets(latest) with the *base* offset of the last
//! record batch plus one, not the offset after the last record: after one
//! batch of 10 records the watermark reads 1. So the watermark is treated as
//! a lower bound: the batch it points into is fetched and its last record
//! decides. On a broker that answers correctly this fetches the one last
//! record and changes nothing.

use std::time::Duration;

use rdkafka::producer::{FutureProducer, Producer};

use super::reader::KafkaReader;
use super::{KafkaConfig, METADATA_TIMEOUT};
use crate::{LogError, LogReader, Position};

pub(super) async fn end_offsets(
    config: &KafkaConfig,
    producer: &FutureProducer,
    topic: &str,
    partitions: u32,
) -> Result<Vec<u64>, LogError> {
    let (producer, name) = (producer.clone(), topic.to_owned());
    let watermarks: Vec<u64> = tokio::task::spawn_blocking(move || {
        (0..partitions)
            .map(|p| {
                let (_, high) = producer
                    .client()
                    .fetch_watermarks(&name, p as i32, METADATA_TIMEOUT)
                    .map_err(LogError::kafka)?;
                Ok(high.max(0) as u64)
            })
            .collect::<Result<Vec<u64>, LogError>>()
    })
    .await
    .map_err(LogError::kafka)??;

    let probe: Vec<Position> = watermarks
        .iter()
        .enumerate()
        .filter(|(_, &high)| high > 0)
        .map(|(p, &high)| Position::new(topic, p as u32, high - 1))
        .collect();
    if probe.is_empty() {
        return Ok(watermarks);
    }
    let mut ends = watermarks;
    let mut waiting = probe.len();
    let mut reader = KafkaReader::assigned(config, &probe)?;
    let mut seen = vec![false; ends.len()];
    let deadline = tokio::time::Instant::now() + METADATA_TIMEOUT;
    while waiting > 0 && tokio::time::Instant::now() < deadline {
        for record in reader.poll(usize::MAX, Duration::from_millis(200)).await? {
            let p = record.partition as usize;
            if let Some(end) = ends.get_mut(p) {
                *end = (*end).max(record.offset + 1);
            }
            if let Some(flag) = seen.get_mut(p).filter(|f| !**f) {
                *flag = true;
                waiting -= 1;
            }
        }
    }
    Ok(ends)
}
