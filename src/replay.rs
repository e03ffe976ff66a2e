//! `imagegram replay`: a topic's events, decoded, for analysts — as JSON
//! lines or as an Avro object container file (Spark, DuckDB, pandas with
//! fastavro read it directly). Reads only: no consumer group is joined or
//! moved. The end is the topic's end when the replay starts.

use std::io::Write;
use std::sync::LazyLock;
use std::time::Duration;

use imagegram_eventlog::{Delivered, EventLog, Position};
use imagegram_schemas::{decode, Event};
use serde::Serialize;

use crate::cli::{ReplayArgs, ReplayFormat};

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

static ROW: LazyLock<Result<serde_avro_fast::Schema, String>> = LazyLock::new(|| {
    ROW_SCHEMA
        .parse()
        .map_err(|e: serde_avro_fast::schema::SchemaError| e.to_string())
});

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
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

pub async fn replay(log: &dyn EventLog, args: &ReplayArgs) -> anyhow::Result<()> {
    let ends = log.end_offsets(&args.topic).await?;
    let from_ms = args.from_time.map(|t| millis(t.into()));
    let to_ms = args.to_time.map(|t| millis(t.into()));
    let starts: Vec<u64> = ends
        .iter()
        .map(|&end| args.from_offset.unwrap_or(0).min(end))
        .collect();
    let stops: Vec<u64> = ends
        .iter()
        .map(|&end| args.to_offset.map_or(end, |to| to.min(end)))
        .collect();
    let total: u64 = starts.iter().zip(&stops).map(|(s, e)| e.saturating_sub(*s)).sum();
    let positions = starts
        .iter()
        .enumerate()
        .map(|(p, &offset)| Position::new(args.topic.clone(), p as u32, offset))
        .collect();
    let mut reader = log.read_from(positions).await?;
    let progress = indicatif::ProgressBar::new(total).with_style(indicatif::ProgressStyle::with_template(
        "{spinner} {pos}/{len} records {wide_bar} {per_sec} eta {eta}",
    )?);
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut sink = Sink::new(args.format, out)?;
    let (mut read, mut written) = (0u64, 0u64);
    while read < total {
        for record in reader.poll(5_000, Duration::from_millis(500)).await? {
            let p = record.partition as usize;
            if record.offset >= stops.get(p).copied().unwrap_or(0) {
                continue;
            }
            read += 1;
            progress.inc(1);
            let in_time = from_ms.is_none_or(|f| record.timestamp_ms >= f)
                && to_ms.is_none_or(|t| record.timestamp_ms < t);
            if in_time {
                sink.write(row_of(&record))?;
                written += 1;
            }
        }
    }
    sink.finish()?;
    progress.finish_and_clear();
    eprintln!("replayed {written} of {read} records from {}", args.topic);
    Ok(())
}

fn millis(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

enum Sink {
    Jsonl(Box<dyn Write>),
    Avro(serde_avro_fast::object_container_file_encoding::Writer<'static, 'static, Box<dyn Write>>),
}

impl Sink {
    fn new(format: ReplayFormat, out: Box<dyn Write>) -> anyhow::Result<Sink> {
        Ok(match format {
            ReplayFormat::Jsonl => Sink::Jsonl(out),
            ReplayFormat::Avro => {
                let schema = ROW
                    .as_ref()
                    .map_err(|e| anyhow::anyhow!("the replay schema: {e}"))?;
                let config = serde_avro_fast::ser::SerializerConfig::new(schema);
                let writer =
                    serde_avro_fast::object_container_file_encoding::WriterBuilder::with_owned_config(config)
                        .compression(serde_avro_fast::object_container_file_encoding::Compression::Null)
                        .build(out)?;
                Sink::Avro(writer)
            }
        })
    }

    fn write(&mut self, row: Row) -> anyhow::Result<()> {
        match self {
            Sink::Jsonl(out) => {
                serde_json::to_writer(&mut *out, &row)?;
                out.write_all(b"\n")?;
            }
            Sink::Avro(writer) => writer.serialize(row)?,
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Jsonl(mut out) => out.flush()?,
            Sink::Avro(writer) => writer.into_inner()?.flush()?,
        }
        Ok(())
    }
}
