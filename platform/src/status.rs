//! `imagegram status`: health and lag in one look, read only. For the
//! configured log and read store: how far each consumer is behind the
//! log's end per topic (the converters' group from its commits, the
//! projector from the positions it stores with the read tables), the
//! dead letters each consumer has given up on, and the open uploads.

use std::fmt::Write;

use imagegram_eventlog::lag::{self, PartitionLag};
use imagegram_eventlog::EventLog;
use imagegram_readstore::{ReadModel, UploadSessions};
use imagegram_schemas::topics::Consumer;
use serde::{Deserialize, Serialize};

use crate::PlatformError;

/// One consumer's place in one topic, summed over its partitions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TopicLag {
    pub consumer: String,
    pub topic: String,
    /// Sum of the consumer's positions.
    pub position: u64,
    /// Sum of the partitions' end offsets.
    pub end: u64,
    pub lag: u64,
    pub partitions: u32,
    /// Partitions with records left to finish.
    pub partitions_behind: u32,
}

/// A consumer's dead letters: every record it ever gave up on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeadLetters {
    pub consumer: String,
    pub topic: String,
    pub count: u64,
}

/// Everything `imagegram status` prints.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    pub log: String,
    pub lag: Vec<TopicLag>,
    pub dead_letters: Vec<DeadLetters>,
    pub open_uploads: u64,
}

/// Sums a consumer's partitions per topic, in the order topics first appear (pure).
pub fn by_topic(consumer: &str, partitions: &[PartitionLag]) -> Vec<TopicLag> {
    let mut topics: Vec<TopicLag> = Vec::new();
    for p in partitions {
        let index = match topics.iter().position(|t| t.topic == p.topic) {
            Some(index) => index,
            None => {
                topics.push(TopicLag {
                    consumer: consumer.to_owned(),
                    topic: p.topic.clone(),
                    position: 0,
                    end: 0,
                    lag: 0,
                    partitions: 0,
                    partitions_behind: 0,
                });
                topics.len() - 1
            }
        };
        let t = &mut topics[index];
        t.position += p.position;
        t.end += p.end;
        t.lag += p.lag();
        t.partitions += 1;
        t.partitions_behind += u32::from(p.lag() > 0);
    }
    topics
}

fn inputs(consumer: Consumer) -> Vec<String> {
    consumer.inputs().iter().map(|t| t.name.to_owned()).collect()
}

/// Gathers the status of `log` and `stores`; `projection` names the
/// positions the projector keeps.
pub async fn gather(
    log: &dyn EventLog,
    model: &dyn ReadModel,
    uploads: &dyn UploadSessions,
    projection: &str,
) -> Result<Status, PlatformError> {
    let mut lags = Vec::new();
    for converters in [Consumer::ImageConverter, Consumer::SmallImageConverter] {
        let group = lag::of_group(log, converters.group(), &inputs(converters)).await?;
        lags.extend(by_topic(converters.group(), &group));
    }
    let positions = model.positions(projection).await?;
    let projected = lag::of_positions(log, &inputs(Consumer::Projector), &positions).await?;
    lags.extend(by_topic(Consumer::Projector.group(), &projected));
    let mut dead_letters = Vec::new();
    for consumer in Consumer::ALL {
        let topic = consumer.dead_letter_topic().name;
        let count = log.end_offsets(topic).await?.iter().sum();
        dead_letters.push(DeadLetters {
            consumer: consumer.group().to_owned(),
            topic: topic.to_owned(),
            count,
        });
    }
    let open_uploads = uploads.open_uploads(None, imagegram_schemas::now_us()).await?;
    Ok(Status {
        log: log.backend().to_owned(),
        lag: lags,
        dead_letters,
        open_uploads,
    })
}

impl Status {
    /// The status as `imagegram status` prints it (pure).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "event log: {}", self.log);
        let _ = writeln!(
            out,
            "\n{:<28} {:<22} {:>10} {:>10} {:>8}  behind",
            "consumer", "topic", "position", "end", "lag"
        );
        for t in &self.lag {
            let _ = writeln!(
                out,
                "{:<28} {:<22} {:>10} {:>10} {:>8}  {}/{} partitions",
                t.consumer, t.topic, t.position, t.end, t.lag, t.partitions_behind, t.partitions
            );
        }
        let _ = writeln!(out, "\n{:<28} {:<34} {:>8}", "dead letters of", "topic", "count");
        for d in &self.dead_letters {
            let _ = writeln!(out, "{:<28} {:<34} {:>8}", d.consumer, d.topic, d.count);
        }
        let _ = writeln!(out, "\nopen uploads: {}", self.open_uploads);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(topic: &str, partition: u32, position: u64, end: u64) -> PartitionLag {
        PartitionLag {
            topic: topic.into(),
            partition,
            position,
            end,
        }
    }

    #[test]
    fn partitions_sum_per_topic() {
        let topics = by_topic(
            "c",
            &[
                part("a", 0, 5, 5),
                part("a", 1, 2, 7),
                part("b", 0, 0, 3),
                part("a", 2, 9, 9),
            ],
        );
        let summed: Vec<_> = topics
            .iter()
            .map(|t| {
                (
                    t.topic.as_str(),
                    t.position,
                    t.end,
                    t.lag,
                    t.partitions_behind,
                    t.partitions,
                )
            })
            .collect();
        assert_eq!(summed, [("a", 16, 21, 5, 1, 3), ("b", 0, 3, 3, 1, 1)]);
    }

    #[test]
    fn the_render_names_every_consumer_and_count() {
        let status = Status {
            log: "embedded".into(),
            lag: by_topic("imagegram.projector", &[part("imagegram.uploads", 0, 1, 4)]),
            dead_letters: vec![DeadLetters {
                consumer: "imagegram.projector".into(),
                topic: "imagegram.dlq.projector".into(),
                count: 2,
            }],
            open_uploads: 7,
        };
        let text = status.render();
        assert!(text.contains("event log: embedded"), "{text}");
        assert!(text.contains("imagegram.uploads"), "{text}");
        assert!(text.contains("1/1 partitions"), "{text}");
        assert!(text.contains("imagegram.dlq.projector"), "{text}");
        assert!(text.contains("open uploads: 7"), "{text}");
    }
}
