//! End offsets (high watermarks) of a topic's partitions: the offset the
//! next record appended to each will get. While a partition's leader is
//! being elected (a broker just started or failed over) the answer is an
//! error a moment later retried, within the metadata time-out.

use std::time::{Duration, Instant};

use rdkafka::producer::{FutureProducer, Producer};

use super::METADATA_TIMEOUT;
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
