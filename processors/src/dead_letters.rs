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
