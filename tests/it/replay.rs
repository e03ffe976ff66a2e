//! `imagegram replay`: the output decodes (JSON lines and an Avro object
//! container file read back with its own schema), offsets bound it, and
//! every event of the topic is there once — on the embedded log and Kafka;
//! while a server holds the embedded log, through that server, the same.

use std::process::Command;

use crate::support::{environment, fill_log, App, Infra, BIN};
use imagegram_schemas::Event;
use imagegram_testkit::workload::workload;
use serde::Deserialize;

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

fn replay(data: &std::path::Path, env: &[(String, String)], args: &[&str]) -> Vec<u8> {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .env_remove("IMAGEGRAM_EVENT_LOG")
        .envs(env.iter().map(|(k, v)| (k, v)))
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

/// The rows of an Avro object container file, read with its own schema.
fn avro_rows(path: &std::path::Path) -> Vec<Row> {
    let bytes = std::fs::read(path).expect("avro file");
    let mut reader = serde_avro_fast::object_container_file_encoding::Reader::from_slice(&bytes)
        .expect("an Avro container");
    reader
        .deserialize::<Row>()
        .collect::<Result<_, _>>()
        .expect("rows decode")
}

async fn replay_output_decodes_in_both_formats(infra: Infra) {
    let Some(env) = environment(infra, "replay_output_decodes_in_both_formats") else {
        return;
    };
    let data = tempfile::tempdir().expect("temp dir");
    let work = workload(20, 300, 3);
    fill_log(data.path(), &env, &work.events).await;
    let comment_events: Vec<&Event> = work
        .events
        .iter()
        .filter(|e| matches!(e, Event::CommentAdded(_) | Event::CommentDeleted(_)))
        .collect();

    let jsonl = replay(data.path(), &env, &["--topic", "imagegram.comments"]);
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
        &env,
        &[
            "--topic",
            "imagegram.comments",
            "--format",
            "avro",
            "--output",
            &avro_arg,
        ],
    );
    let from_avro = avro_rows(&avro_path);
    assert_eq!(from_avro.len(), rows.len());
    assert!(from_avro
        .iter()
        .all(|r| r.kind == "CommentAdded" || r.kind == "CommentDeleted"));

    // Offsets bound the replay in every partition.
    let bounded = replay(
        data.path(),
        &env,
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

    // With a server holding the embedded log, the replay is read there and
    // written here: the same rows, in either format.
    if infra == Infra::Embedded {
        let app = App::start_in(data, env, "serve");
        let through = app.tool(&["replay", "--topic", "imagegram.comments"]);
        let stderr = String::from_utf8_lossy(&through.stderr);
        assert!(through.status.success(), "{stderr}");
        assert!(stderr.contains("asking http://"), "{stderr}");
        let sorted = |bytes: &[u8]| {
            let mut lines: Vec<String> = String::from_utf8_lossy(bytes)
                .lines()
                .map(str::to_owned)
                .collect();
            lines.sort();
            lines
        };
        assert_eq!(sorted(&through.stdout), sorted(&jsonl));
        let avro_path = app.data.path().join("through.avro");
        let written = app.tool(&[
            "replay",
            "--topic",
            "imagegram.comments",
            "--format",
            "avro",
            "--output",
            &avro_path.to_string_lossy(),
        ]);
        assert!(written.status.success());
        assert_eq!(avro_rows(&avro_path).len(), rows.len());
    }
}

on_both!(replay_output_decodes_in_both_formats);
