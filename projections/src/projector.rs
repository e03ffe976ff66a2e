//! The projector: log → read tables, exactly once.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::{Delivered, EventLog, LogReader, Position, Record};
use imagegram_readstore::{Advance, Applied, ReadModel, StoreError};
use imagegram_schemas::dead_letter::{dead_letter, Origin};
use imagegram_schemas::topics::Consumer;
use imagegram_schemas::{decode, encode, now_us, Event};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::ProjectionError;

/// The projection name the live read tables are built under.
pub const READ_MODEL: &str = "read-model";

/// Waits between retries while a dependency is away: short, so the
/// projector is back within a couple of seconds of it.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub struct Projector {
    log: Arc<dyn EventLog>,
    store: Arc<dyn ReadModel>,
    name: String,
    batch: usize,
    applied: broadcast::Sender<Arc<Applied>>,
}

impl Projector {
    pub fn new(log: Arc<dyn EventLog>, store: Arc<dyn ReadModel>, name: &str) -> Self {
        let (applied, _) = broadcast::channel(1024);
        Projector {
            log,
            store,
            name: name.to_owned(),
            batch: 2000,
            applied,
        }
    }

    /// What each committed batch changed, for caches.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Applied>> {
        self.applied.subscribe()
    }

    /// Positions stored for this projection, with offset 0 for partitions it never read.
    async fn start_positions(&self) -> Result<Vec<Position>, ProjectionError> {
        let stored = self.store.positions(&self.name).await?;
        let mut positions = Vec::new();
        for topic in Consumer::Projector.inputs() {
            let partitions = self.log.partitions(topic.name).await?;
            for partition in 0..partitions {
                let offset = stored
                    .iter()
                    .find(|p| p.topic == topic.name && p.partition == partition)
                    .map(|p| p.offset)
                    .unwrap_or(0);
                positions.push(Position::new(topic.name, partition, offset));
            }
        }
        Ok(positions)
    }

    /// Runs until `stop` is cancelled. A batch in hand is finished first.
    /// While the log or the database is away it waits and retries (the
    /// log's reader reconnects by itself), never skipping and never exiting
    /// for what may pass.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), ProjectionError> {
        let Some((mut reader, mut at)) = self.restart_until_done(&stop).await? else {
            return Ok(());
        };
        tracing::info!(projection = %self.name, "projector started");
        let mut backoff = MIN_BACKOFF;
        while !stop.is_cancelled() {
            let batch = tokio::select! {
                _ = stop.cancelled() => break,
                batch = reader.poll(self.batch, Duration::from_millis(250)) => batch,
            };
            match batch {
                Ok(batch) if batch.is_empty() => backoff = MIN_BACKOFF,
                Ok(batch) => {
                    backoff = MIN_BACKOFF;
                    match self.apply_until_done(&batch, &mut at, &stop).await {
                        Err(ProjectionError::Store(StoreError::Conflict(_))) => {
                            // Another projector got there first: carry on from where it is.
                            tracing::warn!(projection = %self.name, "positions moved by another projector; re-reading");
                            match self.restart_until_done(&stop).await? {
                                Some(restarted) => (reader, at) = restarted,
                                None => break,
                            }
                        }
                        other => other?,
                    }
                }
                Err(e) if !e.is_transient() => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "reading the log failed; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        tracing::info!(projection = %self.name, "projector stopped");
        Ok(())
    }

    /// [`Self::restart`], retried while the log or the database is away;
    /// `None` if `stop` came first.
    async fn restart_until_done(
        &self,
        stop: &CancellationToken,
    ) -> Result<Option<(Box<dyn LogReader>, Offsets)>, ProjectionError> {
        let mut backoff = MIN_BACKOFF;
        loop {
            match self.restart().await {
                Ok(restarted) => return Ok(Some(restarted)),
                Err(e) if !e.is_transient() => return Err(e),
                Err(e) => tracing::warn!(error = %e, "reading the stored positions failed; retrying"),
            }
            tokio::select! {
                _ = stop.cancelled() => return Ok(None),
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// A reader from the stored positions, and those positions by partition.
    async fn restart(&self) -> Result<(Box<dyn LogReader>, Offsets), ProjectionError> {
        let positions = self.start_positions().await?;
        let at = positions
            .iter()
            .map(|p| ((p.topic.clone(), p.partition), p.offset))
            .collect();
        Ok((self.log.read_from(positions).await?, at))
    }

    /// Applies one batch. While the database is away it retries, never
    /// skipping. If the database refuses the batch for what it holds (a
    /// value it cannot store, say), the batch is halved until the one
    /// record it refuses is found; that record is dead-lettered with the
    /// database's reason and the rest are applied.
    async fn apply_until_done(
        &self,
        batch: &[Delivered],
        at: &mut Offsets,
        stop: &CancellationToken,
    ) -> Result<(), ProjectionError> {
        let (_, _, poison) = split(batch);
        for (record, reason) in poison {
            self.dead_letter(record, &reason).await;
        }
        self.apply_or_isolate(batch, at, stop).await
    }

    /// [`Self::apply_until_done`] without the undecodable records' letters.
    async fn apply_or_isolate(
        &self,
        batch: &[Delivered],
        at: &mut Offsets,
        stop: &CancellationToken,
    ) -> Result<(), ProjectionError> {
        let (events, positions, _) = split(batch);
        let refused = match self.apply_retrying(&events, positions, at, stop).await {
            Err(ProjectionError::Store(e)) if !e.is_transient() && !stop.is_cancelled() => e,
            other => return other,
        };
        if let [record] = batch {
            self.dead_letter(record, &format!("the read store refuses it: {refused}"))
                .await;
            let (_, positions, _) = split(batch);
            return self.apply_retrying(&[], positions, at, stop).await;
        }
        let (first, second) = batch.split_at(batch.len() / 2);
        Box::pin(self.apply_or_isolate(first, at, stop)).await?;
        Box::pin(self.apply_or_isolate(second, at, stop)).await
    }

    /// Applies `events` and moves to `positions` in one transaction,
    /// retrying with backoff while the failure may pass.
    async fn apply_retrying(
        &self,
        events: &[Event],
        positions: Vec<Position>,
        at: &mut Offsets,
        stop: &CancellationToken,
    ) -> Result<(), ProjectionError> {
        let advances: Vec<Advance> = positions
            .iter()
            .map(|p| Advance {
                topic: p.topic.clone(),
                partition: p.partition,
                from: at.get(&(p.topic.clone(), p.partition)).copied().unwrap_or(0),
                to: p.offset,
            })
            .collect();
        let mut backoff = MIN_BACKOFF;
        loop {
            let started = std::time::Instant::now();
            match self.store.apply(&self.name, events, &advances).await {
                Ok(applied) => {
                    metrics::histogram!(crate::metrics::APPLY_DURATION)
                        .record(started.elapsed().as_secs_f64());
                    metrics::histogram!(crate::metrics::BATCH_RECORDS).record(events.len() as f64);
                    for event in events {
                        let meta = event.meta();
                        tracing::debug!(projection = %self.name, kind = event.kind().name(), post_id = %meta.post_id,
                            request_id = meta.request_id.as_deref().unwrap_or_default(), "projected");
                    }
                    for p in positions {
                        at.insert((p.topic, p.partition), p.offset);
                    }
                    let _ = self.applied.send(Arc::new(applied));
                    return Ok(());
                }
                Err(e @ StoreError::Conflict(_)) => return Err(e.into()),
                Err(e) if stop.is_cancelled() || !e.is_transient() => return Err(e.into()),
                Err(e) => tracing::warn!(error = %e, "applying a batch failed; retrying"),
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn dead_letter(&self, record: &Delivered, reason: &str) {
        metrics::counter!(imagegram_schemas::dead_letter::DEAD_LETTERS_METRIC, "consumer" => Consumer::Projector.group())
            .increment(1);
        tracing::error!(topic = %record.topic, partition = record.partition, offset = record.offset, %reason,
            "projector dead-letters a record");
        let origin = Origin {
            topic: &record.topic,
            partition: record.partition,
            offset: record.offset,
            key: &record.key,
            value: &record.value,
        };
        let letter = dead_letter(Consumer::Projector, origin, reason, now_us());
        let Ok(bytes) = encode(&letter) else { return };
        let topic = Consumer::Projector.dead_letter_topic().name;
        if let Err(e) = self
            .log
            .append(topic, vec![Record::new(letter.key(), bytes)])
            .await
        {
            tracing::error!(error = %e, "could not store a dead letter; the record is skipped");
        }
    }
}

type Poison<'a> = (&'a Delivered, String);

/// Where the projector stands in each partition: (topic, partition) → next offset.
type Offsets = std::collections::HashMap<(String, u32), u64>;

/// Decoded events in log order, the position after the batch in each
/// partition, and the records that do not decode. Events repeated inside the
/// batch (a producer retry) are kept once.
fn split(batch: &[Delivered]) -> (Vec<Event>, Vec<Position>, Vec<Poison<'_>>) {
    let mut events = Vec::with_capacity(batch.len());
    let mut positions: BTreeMap<(&str, u32), Position> = BTreeMap::new();
    let mut poison = Vec::new();
    let mut seen = HashSet::with_capacity(batch.len());
    for record in batch {
        positions.insert((&record.topic, record.partition), record.next_position());
        match decode(&record.value) {
            Ok(event) if seen.insert(event.meta().event_id) => events.push(event),
            Ok(_) => {}
            Err(e) => poison.push((record, format!("undecodable: {e}"))),
        }
    }
    (events, positions.into_values().collect(), poison)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_order_drops_repeats_and_finds_poison() {
        let event = Event::ConversionFailed(imagegram_schemas::ConversionFailed {
            meta: imagegram_schemas::EventMeta {
                event_id: uuid::Uuid::from_u128(1),
                idempotency_key: "k".into(),
                actor: "a".into(),
                occurred_at: 1,
                post_id: uuid::Uuid::from_u128(2),
                request_id: None,
            },
            reason: "r".into(),
        });
        let bytes = encode(&event).expect("encodes");
        let record = |offset, value: &[u8]| Delivered {
            topic: Arc::from("t"),
            partition: 0,
            offset,
            timestamp_ms: 0,
            key: vec![],
            value: value.to_vec(),
        };
        let batch = vec![record(5, &bytes), record(6, b"junk"), record(7, &bytes)];
        let (events, positions, poison) = split(&batch);
        assert_eq!(events, vec![event]);
        assert_eq!(positions, vec![Position::new("t", 0, 8)]);
        assert_eq!(poison.len(), 1);
        assert_eq!(poison[0].0.offset, 6);
    }
}
