//! Operating on dead letters: list them, and send them back to where they
//! came from once the cause is fixed. How far replay got is kept in the
//! read database and moved only after the letters are back in their topics,
//! so a failed replay is simply run again; a letter sent back twice (two
//! operators at once) has one effect, as consumers deduplicate by event id.

use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::{EventLog, Position, Record};
use imagegram_readstore::{Advance, ReadModel, StoreError};
use imagegram_schemas::topics::Consumer;
use imagegram_schemas::{decode, DeadLettered, Event};

use serde::{Deserialize, Serialize};

use crate::ProcessorError;

/// A dead letter and where it sits in its dead-letter topic.
#[derive(Debug, Clone)]
pub struct Entry {
    pub partition: u32,
    pub offset: u64,
    pub letter: DeadLettered,
}

/// Every dead letter of `consumer` from `from` (offset per partition) up to the current end.
async fn read(
    log: &dyn EventLog,
    consumer: Consumer,
    from: &[Position],
) -> Result<(Vec<Entry>, Vec<Advance>), ProcessorError> {
    let topic = consumer.dead_letter_topic().name;
    let ends = log.end_offsets(topic).await?;
    let start = |p: u32| from.iter().find(|x| x.partition == p).map_or(0, |x| x.offset);
    let positions: Vec<Position> = (0..ends.len() as u32)
        .map(|p| Position::new(topic, p, start(p)))
        .collect();
    let advances: Vec<Advance> = positions
        .iter()
        .zip(&ends)
        .filter(|(p, &end)| end > p.offset)
        .map(|(p, &end)| Advance {
            topic: topic.to_owned(),
            partition: p.partition,
            from: p.offset,
            to: end,
        })
        .collect();
    let wanted: u64 = advances.iter().map(|a| a.to - a.from).sum();
    let mut reader = log.read_from(positions).await?;
    let mut entries = Vec::new();
    let mut seen = 0u64;
    while seen < wanted {
        let batch = reader.poll(1000, Duration::from_secs(10)).await?;
        if batch.is_empty() {
            break;
        }
        for record in batch {
            if ends
                .get(record.partition as usize)
                .is_some_and(|&end| record.offset >= end)
            {
                continue;
            }
            seen += 1;
            match decode(&record.value) {
                Ok(Event::DeadLettered(letter)) => entries.push(Entry {
                    partition: record.partition,
                    offset: record.offset,
                    letter,
                }),
                _ => tracing::warn!(
                    offset = record.offset,
                    "a record in a dead-letter topic is not a dead letter"
                ),
            }
        }
    }
    Ok((entries, advances))
}

/// Every dead letter `consumer` has given up on.
pub async fn list(log: &dyn EventLog, consumer: Consumer) -> Result<Vec<Entry>, ProcessorError> {
    Ok(read(log, consumer, &[]).await?.0)
}

/// A dead letter as `imagegram dlq list` shows it: where it sits, where it
/// came from and why, without its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    pub consumer: String,
    pub dead_letter_topic: String,
    pub partition: u32,
    pub offset: u64,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    pub bytes: usize,
    pub reason: String,
}

impl Listed {
    /// The line `imagegram dlq list` prints (pure).
    pub fn line(&self) -> String {
        format!(
            "{}\t{}#{}@{}\t{}#{}@{}\t{} bytes\t{}",
            self.consumer,
            self.dead_letter_topic,
            self.partition,
            self.offset,
            self.source_topic,
            self.source_partition,
            self.source_offset,
            self.bytes,
            self.reason
        )
    }
}

/// Every dead letter of each of `consumers`, as listed.
pub async fn listing(log: &dyn EventLog, consumers: &[Consumer]) -> Result<Vec<Listed>, ProcessorError> {
    let mut all = Vec::new();
    for &consumer in consumers {
        for entry in list(log, consumer).await? {
            let l = entry.letter;
            all.push(Listed {
                consumer: l.consumer,
                dead_letter_topic: consumer.dead_letter_topic().name.to_owned(),
                partition: entry.partition,
                offset: entry.offset,
                source_topic: l.source_topic,
                source_partition: l.source_partition,
                source_offset: l.source_offset,
                bytes: l.payload.len(),
                reason: l.reason,
            });
        }
    }
    Ok(all)
}

/// Sends every dead letter not yet replayed back to its source topic;
/// returns how many went back.
pub async fn replay(
    log: &Arc<dyn EventLog>,
    store: &Arc<dyn ReadModel>,
    consumer: Consumer,
) -> Result<usize, ProcessorError> {
    let marker = format!("dlq-replay:{}", consumer.group());
    let done = store.positions(&marker).await.map_err(ProcessorError::Store)?;
    let (entries, advances) = read(&**log, consumer, &done).await?;
    if advances.is_empty() {
        return Ok(0);
    }
    for entry in &entries {
        let letter = &entry.letter;
        let record = Record::new(letter.source_key.clone(), letter.payload.clone());
        log.append(&letter.source_topic, vec![record]).await?;
        tracing::info!(source = %letter.source_topic, offset = letter.source_offset, "dead letter replayed");
    }
    match store.apply(&marker, &[], &advances).await {
        Ok(_) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(ProcessorError::Store(e)),
    }
    Ok(entries.len())
}
