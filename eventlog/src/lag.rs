//! Consumer lag: how many records a consumer has yet to finish in each
//! partition it reads (the partition's end offset minus the consumer's
//! position), reported as `imagegram_consumer_lag{consumer, topic,
//! partition}` and read by `imagegram status`.
//!
//! A consumer group's lag is the group's, not a member's: it is measured
//! from the offsets the group committed, the way Kafka's own tools do,
//! so every process of the group reports the same figures (take `max`
//! over them). A reader that keeps its own positions (a gateway following
//! the log) is measured from where it has read to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::{Delivered, EventLog, LogError, LogReader, Position};

pub const CONSUMER_LAG: &str = "imagegram_consumer_lag";

/// How far one consumer is behind in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: u32,
    /// The offset the consumer resumes from.
    pub position: u64,
    /// The offset the next record appended will get.
    pub end: u64,
}

impl PartitionLag {
    pub fn lag(&self) -> u64 {
        self.end.saturating_sub(self.position)
    }
}

/// Each partition of each topic paired with the consumer's position in it;
/// a partition the consumer has no position in counts from 0 (pure).
pub fn behind(ends: &[(String, Vec<u64>)], positions: &[Position]) -> Vec<PartitionLag> {
    let at: BTreeMap<(&str, u32), u64> = positions
        .iter()
        .map(|p| ((p.topic.as_str(), p.partition), p.offset))
        .collect();
    ends.iter()
        .flat_map(|(topic, ends)| {
            ends.iter().enumerate().map(|(partition, &end)| {
                let partition = partition as u32;
                PartitionLag {
                    topic: topic.clone(),
                    partition,
                    position: at.get(&(topic.as_str(), partition)).copied().unwrap_or(0),
                    end,
                }
            })
        })
        .collect()
}

async fn ends(log: &dyn EventLog, topics: &[String]) -> Result<Vec<(String, Vec<u64>)>, LogError> {
    let mut all = Vec::with_capacity(topics.len());
    for topic in topics {
        all.push((topic.clone(), log.end_offsets(topic).await?));
    }
    Ok(all)
}

/// The lag of a consumer at `positions` in `topics`.
pub async fn of_positions(
    log: &dyn EventLog,
    topics: &[String],
    positions: &[Position],
) -> Result<Vec<PartitionLag>, LogError> {
    Ok(behind(&ends(log, topics).await?, positions))
}

/// The lag of consumer group `group` in `topics`, from its committed offsets.
pub async fn of_group(
    log: &dyn EventLog,
    group: &str,
    topics: &[String],
) -> Result<Vec<PartitionLag>, LogError> {
    let mut committed = Vec::new();
    for topic in topics {
        let offsets = log.committed_offsets(group, topic).await?;
        committed.extend(
            offsets
                .into_iter()
                .enumerate()
                .map(|(p, offset)| Position::new(topic.as_str(), p as u32, offset)),
        );
    }
    of_positions(log, topics, &committed).await
}

/// Where a reader has read to, readable while it runs.
#[derive(Clone, Default)]
pub struct Positions(Arc<Mutex<BTreeMap<(String, u32), u64>>>);

impl Positions {
    /// Every partition's position now.
    pub fn now(&self) -> Vec<Position> {
        let at = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        at.iter()
            .map(|((topic, partition), &offset)| Position::new(topic.as_str(), *partition, offset))
            .collect()
    }

    fn advance(&self, records: &[Delivered]) {
        let mut at = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for record in records {
            let next = at
                .entry((record.topic.to_string(), record.partition))
                .or_insert(0);
            *next = (*next).max(record.offset + 1);
        }
    }
}

/// A reader that keeps [`Positions`] up to date as it delivers.
pub struct Tracked {
    inner: Box<dyn LogReader>,
    positions: Positions,
}

/// Wraps a reader that starts at `start`; the positions follow its reads.
pub fn track(inner: Box<dyn LogReader>, start: &[Position]) -> (Box<dyn LogReader>, Positions) {
    let positions = Positions::default();
    {
        let mut at = positions
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for p in start {
            at.insert((p.topic.clone(), p.partition), p.offset);
        }
    }
    let reader = Tracked {
        inner,
        positions: positions.clone(),
    };
    (Box::new(reader), positions)
}

#[async_trait]
impl LogReader for Tracked {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivered>, LogError> {
        let records = self.inner.poll(max, wait).await?;
        self.positions.advance(&records);
        Ok(records)
    }
}

/// A reader of `topics` from their ends on, whose lag is reported as
/// `consumer`'s until `stop`: a follower of what happens next.
pub async fn follow_from_ends(
    log: &Arc<dyn EventLog>,
    consumer: &'static str,
    topics: &[&str],
    stop: CancellationToken,
) -> Result<Box<dyn LogReader>, LogError> {
    let positions = Position::ends_of(&**log, topics).await?;
    let (reader, at) = track(log.read_from(positions.clone()).await?, &positions);
    let topics = topics.iter().map(|t| (*t).to_owned()).collect();
    report(Arc::clone(log), consumer, topics, Source::Reader(at), stop);
    Ok(reader)
}

/// Where a consumer's positions come from.
pub enum Source {
    /// The offsets a consumer group committed.
    Group(String),
    /// A tracked reader's.
    Reader(Positions),
    /// Somewhere else (a projection keeps its own in its database).
    Fetched(Box<dyn Fn() -> BoxFuture<'static, Result<Vec<Position>, String>> + Send + Sync>),
}

/// How often [`report`] measures.
pub const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Measures `consumer`'s lag in `topics` every [`REPORT_EVERY`] into the
/// process's metrics, until `stop`.
pub fn report(
    log: Arc<dyn EventLog>,
    consumer: &'static str,
    topics: Vec<String>,
    source: Source,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(REPORT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            let measured = match &source {
                Source::Group(group) => of_group(&*log, group, &topics).await.map_err(|e| e.to_string()),
                Source::Reader(positions) => of_positions(&*log, &topics, &positions.now())
                    .await
                    .map_err(|e| e.to_string()),
                Source::Fetched(fetch) => match fetch().await {
                    Ok(positions) => of_positions(&*log, &topics, &positions)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                },
            };
            match measured {
                Ok(lags) => {
                    for l in lags {
                        metrics::gauge!(CONSUMER_LAG, "consumer" => consumer, "topic" => l.topic.clone(),
                            "partition" => l.partition.to_string())
                        .set(l.lag() as f64);
                    }
                }
                Err(error) => tracing::debug!(consumer, %error, "could not measure the lag"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_the_end_minus_the_position_and_missing_positions_count_from_zero() {
        let ends = vec![("a".to_owned(), vec![10, 0, 7]), ("b".to_owned(), vec![3])];
        let positions = [
            Position::new("a", 0, 4),
            Position::new("a", 2, 7),
            Position::new("c", 0, 1),
        ];
        let lags: Vec<(String, u32, u64)> = behind(&ends, &positions)
            .iter()
            .map(|l| (l.topic.clone(), l.partition, l.lag()))
            .collect();
        assert_eq!(
            lags,
            [
                ("a".into(), 0, 6),
                ("a".into(), 1, 0),
                ("a".into(), 2, 0),
                ("b".into(), 0, 3)
            ]
        );
    }

    #[test]
    fn a_position_past_the_end_is_no_lag() {
        let lag = PartitionLag {
            topic: "a".into(),
            partition: 0,
            position: 9,
            end: 5,
        };
        assert_eq!(lag.lag(), 0);
    }
}
