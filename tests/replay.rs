//! `imagegram replay`: the output decodes (JSON lines and an Avro object
//! container file read back with its own schema), offsets bound it, and
//! every event of the topic is there once.

mod support;

use std::process::Command;
use std::sync::Arc;

use imagegram_eventlog::embedded::{Durability, EmbeddedLog};
use imagegram_eventlog::{EventLog, TopicSpec};
use imagegram_schemas::{topics, Event};
use imagegram_testkit::workload::{append_all, workload};
use serde::Deserialize;
use support::BIN;

#[derive(Debug, Deserialize)]
struct Row {
    topic: String,
    partition: i32,
    offset: i64,
    kind: String,
    event_id: String,
    post_id: String,
    event_json: String,
}

fn replay(data: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["--log-filter", "warn", "replay"])
        .args(args)
        .output()
        .expect("imagegram replay");
    assert!(
        out.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_output_decodes_in_both_formats() {
    let data = tempfile::tempdir().expect("temp dir");
    let work = workload(20, 300, 3);
    {
        let log: Arc<dyn EventLog> =
            Arc::new(EmbeddedLog::open(&data.path().join("log"), Durability::Fsync).expect("log"));
        let specs: Vec<TopicSpec> = topics::all()
            .iter()
            .map(|t| TopicSpec::new(t.name, t.partitions))
            .collect();
        log.create_topics(&specs).await.expect("topics");
        append_all(&*log, &work.events, 100).await;
    }
    let comment_events: Vec<&Event> = work
        .events
        .iter()
        .filter(|e| matches!(e, Event::CommentAdded(_) | Event::CommentDeleted(_)))
        .collect();

    let jsonl = replay(data.path(), &["--topic", "imagegram.comments"]);
    let rows: Vec<Row> = String::from_utf8_lossy(&jsonl)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(rows.len(), comment_events.len());
    let mut ids: Vec<&str> = rows.iter().map(|r| r.event_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "each event once");
    assert!(rows
        .iter()
        .all(|r| r.topic == "imagegram.comments" && r.kind.starts_with("Comment")));
    let first: serde_json::Value = serde_json::from_str(&rows[0].event_json).expect("event json");
    assert_eq!(first["meta"]["post_id"], rows[0].post_id.as_str());

    let avro_path = data.path().join("comments.avro");
    let avro_arg = avro_path.to_string_lossy().into_owned();
    replay(
        data.path(),
        &[
            "--topic",
            "imagegram.comments",
            "--format",
            "avro",
            "--output",
            &avro_arg,
        ],
    );
    let bytes = std::fs::read(&avro_path).expect("avro file");
    let mut reader = serde_avro_fast::object_container_file_encoding::Reader::from_slice(&bytes)
        .expect("an Avro container");
    let avro_rows: Vec<Row> = reader
        .deserialize::<Row>()
        .collect::<Result<_, _>>()
        .expect("rows decode");
    assert_eq!(avro_rows.len(), rows.len());
    assert!(avro_rows
        .iter()
        .all(|r| r.kind == "CommentAdded" || r.kind == "CommentDeleted"));

    // Offsets bound the replay in every partition.
    let bounded = replay(
        data.path(),
        &[
            "--topic",
            "imagegram.comments",
            "--from-offset",
            "2",
            "--to-offset",
            "5",
        ],
    );
    let bounded: Vec<Row> = String::from_utf8_lossy(&bounded)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(!bounded.is_empty());
    assert!(bounded
        .iter()
        .all(|r| (2..5).contains(&r.offset) && r.partition >= 0));
}
