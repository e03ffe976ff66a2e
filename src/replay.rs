//! `imagegram replay`: a topic's events, decoded, for analysts — as JSON
//! lines or as an Avro object container file (Spark, DuckDB, pandas with
//! fastavro read it directly). Reads only: no consumer group is joined or
//! moved. The end is the topic's end when the replay starts. When a
//! running `serve` holds the embedded log, it reads and streams the rows
//! (`GET /v1/admin/replay`), written here the same way.

use std::io::Write;
use std::sync::{Arc, LazyLock};

use futures::{Stream, StreamExt};
use imagegram_eventlog::EventLog;
use imagegram_platform::replay::{Range, Replayed, Row, ROW_SCHEMA};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::cli::{ReplayArgs, ReplayFormat};
use crate::server::{json_lines, Server};

static ROW: LazyLock<Result<serde_avro_fast::Schema, String>> = LazyLock::new(|| {
    ROW_SCHEMA
        .parse()
        .map_err(|e: serde_avro_fast::schema::SchemaError| e.to_string())
});

/// The records `args` asks for.
fn range(args: &ReplayArgs) -> Range {
    Range {
        topic: args.topic.clone(),
        from_offset: args.from_offset,
        to_offset: args.to_offset,
        from_ms: args.from_time.map(|t| millis(t.into())),
        to_ms: args.to_time.map(|t| millis(t.into())),
    }
}

/// Replays from the log this process opened.
pub async fn replay(log: Arc<dyn EventLog>, args: &ReplayArgs) -> anyhow::Result<()> {
    let (items, received) = mpsc::channel(4096);
    let range = range(args);
    tokio::spawn(async move { imagegram_platform::replay::replay(&*log, &range, items).await });
    write(ReceiverStream::new(received).map(Ok), args).await
}

/// Replays through the running server that holds the embedded log.
pub async fn through_server(server: &Server, args: &ReplayArgs) -> anyhow::Result<()> {
    let range = range(args);
    let bounds = [
        ("from_offset", range.from_offset.map(|v| v.to_string())),
        ("to_offset", range.to_offset.map(|v| v.to_string())),
        ("from_ms", range.from_ms.map(|v| v.to_string())),
        ("to_ms", range.to_ms.map(|v| v.to_string())),
    ];
    let mut query = vec![("topic", range.topic.clone())];
    query.extend(
        bounds
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?))),
    );
    let response = server
        .ask(reqwest::Method::GET, "/v1/admin/replay", &query)
        .await?;
    write(json_lines::<Replayed>(response), args).await
}

/// Writes replayed rows in `args`' format, with a progress bar.
async fn write(items: impl Stream<Item = anyhow::Result<Replayed>>, args: &ReplayArgs) -> anyhow::Result<()> {
    let progress = indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
        "{spinner} {pos}/{len} records {wide_bar} {per_sec} eta {eta}",
    )?);
    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut sink = Sink::new(args.format, out)?;
    let mut items = std::pin::pin!(items);
    while let Some(item) = items.next().await {
        match item? {
            Replayed::Total(total) => progress.set_length(total),
            Replayed::Row(row) => {
                sink.write(row)?;
                progress.inc(1);
            }
            Replayed::Skipped => progress.inc(1),
            Replayed::Done { read, written } => {
                sink.finish()?;
                progress.finish_and_clear();
                eprintln!("replayed {written} of {read} records from {}", args.topic);
                return Ok(());
            }
            Replayed::Failed(reason) => anyhow::bail!("the replay failed: {reason}"),
        }
    }
    anyhow::bail!("the replay stopped before its end")
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
