//! The loop every processor runs in: join the group, read a batch, handle
//! each event once, append results, commit positions; stop cleanly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use imagegram_eventlog::{Delivered, EventLog, Position, Record};
use imagegram_readstore::RequestRecords;
use imagegram_schemas::topics::{self, Consumer};
use imagegram_schemas::{decode, encode, Event};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use imagegram_schemas::dead_letter::{dead_letter, Origin};

use crate::{Failure, ProcessorError};
use imagegram_schemas::now_us;

/// One kind of work done on events.
#[async_trait]
pub trait Processor: Send + Sync {
    fn consumer(&self) -> Consumer;

    /// Handles one event; returns the events to append (each to its topic).
    /// Events it does not care about return nothing.
    async fn handle(&self, event: &Event) -> Result<Vec<Event>, Failure>;
}

#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Records read per poll.
    pub batch: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Crashes of one event before it is dead-lettered.
    pub crash_limit: u32,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        RunnerOptions {
            batch: 32,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            crash_limit: 3,
        }
    }
}

pub struct Runner {
    pub log: Arc<dyn EventLog>,
    /// Processed-event marks: each event handled once.
    pub records: Arc<dyn RequestRecords>,
    pub processor: Arc<dyn Processor>,
    pub options: RunnerOptions,
}

enum Outcome {
    Done,
    Interrupted,
}

enum Appending {
    Done,
    Interrupted,
    /// The log will never take a result: the input is dead-lettered.
    Refused(String),
}

impl Runner {
    /// Runs until `stop` is cancelled; positions of finished records are committed.
    pub async fn run(&self, stop: CancellationToken) -> Result<(), ProcessorError> {
        let consumer = self.processor.consumer();
        let inputs: Vec<String> = consumer.inputs().iter().map(|t| t.name.to_owned()).collect();
        let mut member = self.log.join_group(consumer.group(), &inputs).await?;
        let mut backoff = self.options.min_backoff;
        while !stop.is_cancelled() {
            let polled = tokio::select! {
                _ = stop.cancelled() => break,
                polled = member.poll(self.options.batch, Duration::from_millis(500)) => polled,
            };
            let batch = match polled {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(consumer = consumer.group(), error = %e, "poll failed; retrying");
                    if self.pause(&stop, &mut backoff).await.is_none() {
                        break;
                    }
                    continue;
                }
            };
            backoff = self.options.min_backoff;
            let mut done: BTreeMap<(String, u32), Position> = BTreeMap::new();
            let mut interrupted = false;
            for record in &batch {
                match self.process(consumer, record, &stop).await? {
                    Outcome::Done => {
                        done.insert(
                            (record.topic.to_string(), record.partition),
                            record.next_position(),
                        );
                    }
                    Outcome::Interrupted => {
                        interrupted = true;
                        break;
                    }
                }
            }
            let positions: Vec<Position> = done.into_values().collect();
            if let Err(e) = member.commit(&positions).await {
                // Not fatal: the records will be read again and skipped as processed.
                tracing::warn!(consumer = consumer.group(), error = %e, "committing positions failed");
            }
            if interrupted {
                break;
            }
        }
        tracing::info!(consumer = consumer.group(), "processor stopped");
        Ok(())
    }

    async fn process(
        &self,
        consumer: Consumer,
        record: &Delivered,
        stop: &CancellationToken,
    ) -> Result<Outcome, ProcessorError> {
        let event = match decode(&record.value) {
            Ok(event) => event,
            Err(e) => {
                return self
                    .give_up(consumer, record, &format!("undecodable: {e}"), stop)
                    .await
            }
        };
        // Every line logged about the event names the request that caused
        // it (an error-level span is on whenever any line is).
        let meta = event.meta();
        let span = tracing::error_span!("event", consumer = consumer.group(), event_id = %meta.event_id,
            post_id = %meta.post_id, request_id = meta.request_id.as_deref().unwrap_or_default());
        self.handle_once(consumer, record, &event, stop)
            .instrument(span)
            .await
    }

    /// Handles a decoded event unless it was already, retrying what may pass.
    async fn handle_once(
        &self,
        consumer: Consumer,
        record: &Delivered,
        event: &Event,
        stop: &CancellationToken,
    ) -> Result<Outcome, ProcessorError> {
        let id = event.meta().event_id;
        let mut backoff = self.options.min_backoff;
        let seen = loop {
            match self.records.is_processed(consumer.group(), id).await {
                Ok(seen) => break seen,
                Err(e) => tracing::warn!(error = %e, "dedup lookup failed; retrying"),
            }
            if self.pause(stop, &mut backoff).await.is_none() {
                return Ok(Outcome::Interrupted);
            }
        };
        if seen {
            tracing::debug!(%id, "already processed");
            return Ok(Outcome::Done);
        }
        let mut backoff = self.options.min_backoff;
        loop {
            // Counted before handling and uncounted after, unless the
            // handler crashed: a process killed mid-way (out of memory, say)
            // leaves its attempt counted for the next one to see.
            let Some(unfinished) = self.begin_attempt(consumer, id, stop).await else {
                return Ok(Outcome::Interrupted);
            };
            if unfinished > self.options.crash_limit {
                let reason = format!(
                    "its handling crashed, hung or was killed {} times",
                    unfinished - 1
                );
                return self.give_up(consumer, record, &reason, stop).await;
            }
            let handled = self.processor.handle(event).await;
            if !matches!(handled, Err(Failure::Crashed(_))) {
                if let Err(e) = self.records.end_attempt(consumer.group(), id).await {
                    tracing::warn!(error = %e, "could not count an attempt as ended");
                }
            }
            match handled {
                Ok(outputs) => {
                    return match self.append(&outputs, stop).await? {
                        Appending::Done => self.mark(consumer, id, stop).await,
                        Appending::Interrupted => Ok(Outcome::Interrupted),
                        Appending::Refused(reason) => self.give_up(consumer, record, &reason, stop).await,
                    };
                }
                Err(Failure::Poison(reason)) => return self.give_up(consumer, record, &reason, stop).await,
                Err(Failure::Crashed(reason)) => {
                    tracing::warn!(%id, attempt = unfinished, %reason, "handler crashed");
                    if unfinished >= self.options.crash_limit {
                        let reason = format!("crashed {unfinished} times: {reason}");
                        return self.give_up(consumer, record, &reason, stop).await;
                    }
                }
                Err(Failure::Transient(reason)) => tracing::warn!(%id, %reason, "will retry"),
            }
            if self.pause(stop, &mut backoff).await.is_none() {
                return Ok(Outcome::Interrupted);
            }
        }
    }

    /// Counts an attempt at `id` as begun, retrying while the store is
    /// away; how many have begun and not ended. `None` if stopped meanwhile.
    async fn begin_attempt(
        &self,
        consumer: Consumer,
        id: uuid::Uuid,
        stop: &CancellationToken,
    ) -> Option<u32> {
        let mut backoff = self.options.min_backoff;
        loop {
            match self.records.begin_attempt(consumer.group(), id).await {
                Ok(unfinished) => return Some(unfinished),
                Err(e) => tracing::warn!(error = %e, "counting an attempt failed; retrying"),
            }
            self.pause(stop, &mut backoff).await?;
        }
    }

    /// Sends the record to the dead-letter topic and moves on.
    async fn give_up(
        &self,
        consumer: Consumer,
        record: &Delivered,
        reason: &str,
        stop: &CancellationToken,
    ) -> Result<Outcome, ProcessorError> {
        tracing::error!(consumer = consumer.group(), topic = %record.topic, partition = record.partition,
            offset = record.offset, reason, "dead-lettering a record");
        let origin = Origin {
            topic: &record.topic,
            partition: record.partition,
            offset: record.offset,
            key: &record.key,
            value: &record.value,
        };
        crate::metrics::dead_lettered(consumer);
        let letter = dead_letter(consumer, origin, reason, now_us());
        let topic = consumer.dead_letter_topic().name;
        let bytes = encode(&letter)?;
        let mut backoff = self.options.min_backoff;
        loop {
            match self
                .log
                .append(topic, vec![Record::new(letter.key(), bytes.clone())])
                .await
            {
                Ok(_) => return Ok(Outcome::Done),
                Err(e) => tracing::warn!(error = %e, "appending a dead letter failed; retrying"),
            }
            if self.pause(stop, &mut backoff).await.is_none() {
                return Ok(Outcome::Interrupted);
            }
        }
    }

    /// Appends every output to its topic; `false` when interrupted.
    /// Appends the handler's results, retrying while the log says a retry
    /// can help; a result the log refuses for what it is sends the input to
    /// the dead letters instead.
    async fn append(&self, outputs: &[Event], stop: &CancellationToken) -> Result<Appending, ProcessorError> {
        for event in outputs {
            let topic = topics::topic_for(event.kind()).name;
            let record = Record::new(event.key(), encode(event)?);
            let mut backoff = self.options.min_backoff;
            while let Err(e) = self.log.append(topic, vec![record.clone()]).await {
                if !e.is_transient() {
                    return Ok(Appending::Refused(format!("the log refused a result: {e}")));
                }
                tracing::warn!(error = %e, "appending a result failed; retrying");
                if self.pause(stop, &mut backoff).await.is_none() {
                    return Ok(Appending::Interrupted);
                }
            }
        }
        Ok(Appending::Done)
    }

    async fn mark(
        &self,
        consumer: Consumer,
        id: uuid::Uuid,
        stop: &CancellationToken,
    ) -> Result<Outcome, ProcessorError> {
        let mut backoff = self.options.min_backoff;
        while let Err(e) = self.records.mark_processed(consumer.group(), id).await {
            tracing::warn!(error = %e, "marking an event processed failed; retrying");
            if self.pause(stop, &mut backoff).await.is_none() {
                // The result is appended; if this event comes again its
                // derived ids make the repeat harmless downstream.
                return Ok(Outcome::Interrupted);
            }
        }
        Ok(Outcome::Done)
    }

    /// Sleeps `backoff` (doubling it, capped) unless stopped: `None` when stopped.
    async fn pause(&self, stop: &CancellationToken, backoff: &mut Duration) -> Option<()> {
        let wait = *backoff;
        *backoff = (*backoff * 2).min(self.options.max_backoff);
        tokio::select! {
            _ = stop.cancelled() => None,
            _ = tokio::time::sleep(wait) => Some(()),
        }
    }
}
