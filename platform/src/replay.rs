//! Replaying a topic for analysts: its records between two offsets or
//! times, each decoded into a [`Row`]. Reads only: no consumer group is
//! joined or moved; the end is the topic's end when the replay starts.
//!
//! What a replay produces is a sequence of [`Replayed`] items, the same
//! whether `imagegram replay` reads the log itself or a running server
//! reads it and streams them (the embedded log is one process's).

use std::time::Duration;

use imagegram_eventlog::{Delivered, EventLog, Position};
use imagegram_schemas::{decode, Event};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::PlatformError;

/// The Avro schema of a replayed event: where it sat in the log, its common
/// fields as columns, and the whole event as JSON.
pub const ROW_SCHEMA: &str = r#"{"type": "record", "name": "ReplayedEvent", "namespace": "imagegram.replay",
 "fields": [
  {"name": "topic", "type": "string"},
  {"name": "partition", "type": "int"},
  {"name": "offset", "type": "long"},
  {"name": "timestamp_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
  {"name": "kind", "type": "string", "doc": "the event type, or `undecodable`"},
  {"name": "event_id", "type": "string"},
  {"name": "actor", "type": "string"},
  {"name": "post_id", "type": "string"},
  {"name": "occurred_at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
  {"name": "event_json", "type": "string", "doc": "the whole event, or why it could not be decoded"}
 ]}"#;

/// One replayed record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
    pub kind: String,
    pub event_id: String,
    pub actor: String,
    pub post_id: String,
    pub occurred_at: i64,
    pub event_json: String,
}

/// Which records to replay.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Range {
    /// Without any `--topic-prefix`.
    pub topic: String,
    /// From this offset in every partition (default: the beginning).
    pub from_offset: Option<u64>,
    /// Before this offset in every partition (default: the end when the replay starts).
    pub to_offset: Option<u64>,
    /// Only records appended at or after this time, ms since the epoch.
    pub from_ms: Option<i64>,
    /// Only records appended before this time, ms since the epoch.
    pub to_ms: Option<i64>,
}

/// What a replay produces, in order: the total once, then an item per
/// record read, then `Done` (or `Failed`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Replayed {
    /// Records the replay will read.
    Total(u64),
    /// A record in the time window.
    Row(Row),
    /// A record read but outside the time window.
    Skipped,
    Done {
        read: u64,
        written: u64,
    },
    /// The replay stopped; why.
    Failed(String),
}

/// The row for one record (pure).
pub fn row_of(record: &Delivered) -> Row {
    let mut row = Row {
        topic: record.topic.to_string(),
        partition: record.partition as i32,
        offset: record.offset as i64,
        timestamp_ms: record.timestamp_ms,
        kind: "undecodable".into(),
        event_id: String::new(),
        actor: String::new(),
        post_id: String::new(),
        occurred_at: 0,
        event_json: String::new(),
    };
    match decode(&record.value) {
        Ok(event) => {
            let meta = event.meta();
            row.kind = event.kind().name().to_owned();
            row.event_id = meta.event_id.to_string();
            row.actor = meta.actor.clone();
            row.post_id = meta.post_id.to_string();
            row.occurred_at = meta.occurred_at;
            let json = match &event {
                Event::UploadRequested(e) => serde_json::to_string(e),
                Event::ImageConverted(e) => serde_json::to_string(e),
                Event::ConversionFailed(e) => serde_json::to_string(e),
                Event::CommentAdded(e) => serde_json::to_string(e),
                Event::CommentDeleted(e) => serde_json::to_string(e),
                Event::DeadLettered(e) => serde_json::to_string(e),
            };
            row.event_json = json.unwrap_or_else(|e| format!("not representable as JSON: {e}"));
        }
        Err(e) => row.event_json = e.to_string(),
    }
    row
}

/// Where each partition's replay starts and stops, given its end (pure).
pub fn bounds(range: &Range, ends: &[u64]) -> Vec<(u64, u64)> {
    ends.iter()
        .map(|&end| {
            let start = range.from_offset.unwrap_or(0).min(end);
            let stop = range.to_offset.map_or(end, |to| to.min(end));
            (start, stop.max(start))
        })
        .collect()
}

/// Replays `range` into `out`, ending with `Done` or `Failed`. Stops early,
/// without error, when `out` is closed (its reader went away).
pub async fn replay(log: &dyn EventLog, range: &Range, out: mpsc::Sender<Replayed>) {
    let last = match replay_into(log, range, &out).await {
        Ok(Some((read, written))) => Replayed::Done { read, written },
        Ok(None) => return,
        Err(e) => Replayed::Failed(e.to_string()),
    };
    let _ = out.send(last).await;
}

/// The replay; `None` when `out` closed first.
async fn replay_into(
    log: &dyn EventLog,
    range: &Range,
    out: &mpsc::Sender<Replayed>,
) -> Result<Option<(u64, u64)>, PlatformError> {
    let ends = log.end_offsets(&range.topic).await?;
    let bounds = bounds(range, &ends);
    let total: u64 = bounds.iter().map(|(start, stop)| stop - start).sum();
    if out.send(Replayed::Total(total)).await.is_err() {
        return Ok(None);
    }
    let positions = bounds
        .iter()
        .enumerate()
        .map(|(p, &(start, _))| Position::new(range.topic.clone(), p as u32, start))
        .collect();
    let mut reader = log.read_from(positions).await?;
    let (mut read, mut written) = (0u64, 0u64);
    while read < total {
        for record in reader.poll(5_000, Duration::from_millis(500)).await? {
            let stop = bounds.get(record.partition as usize).map_or(0, |b| b.1);
            if record.offset >= stop {
                continue;
            }
            read += 1;
            let in_time = range.from_ms.is_none_or(|f| record.timestamp_ms >= f)
                && range.to_ms.is_none_or(|t| record.timestamp_ms < t);
            let item = if in_time {
                written += 1;
                Replayed::Row(row_of(&record))
            } else {
                Replayed::Skipped
            };
            if out.send(item).await.is_err() {
                return Ok(None);
            }
        }
    }
    Ok(Some((read, written)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_clamp_to_each_partitions_end() {
        let range = Range {
            topic: "t".into(),
            from_offset: Some(3),
            to_offset: Some(8),
            ..Range::default()
        };
        assert_eq!(bounds(&range, &[10, 5, 0]), [(3, 8), (3, 5), (0, 0)]);
        let all = Range {
            topic: "t".into(),
            ..Range::default()
        };
        assert_eq!(bounds(&all, &[4, 0]), [(0, 4), (0, 0)]);
    }

    #[test]
    fn replayed_items_travel_as_json_lines() {
        for item in [
            Replayed::Total(3),
            Replayed::Skipped,
            Replayed::Done { read: 3, written: 2 },
            Replayed::Failed("gone".into()),
        ] {
            let line = serde_json::to_string(&item).expect("serialises");
            assert!(!line.contains('\n'));
            assert_eq!(serde_json::from_str::<Replayed>(&line).expect("parses"), item);
        }
    }
}
