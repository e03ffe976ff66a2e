//! End offsets (high watermarks) of a topic's partitions: the offset the
//! next record appended to each will get.

use rdkafka::producer::{FutureProducer, Producer};

use super::METADATA_TIMEOUT;
use crate::LogError;

pub(super) async fn end_offsets(
    producer: &FutureProducer,
    topic: &str,
    partitions: u32,
) -> Result<Vec<u64>, LogError> {
    let (producer, name) = (producer.clone(), topic.to_owned());
    tokio::task::spawn_blocking(move || {
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
    .map_err(LogError::kafka)?
}
