//! The binary as an operator runs it: `imagegram serve` on an empty data dir.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running {
    child: Child,
    base: String,
}

fn start(data_dir: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imagegram"))
        .args(["--data-dir"])
        .arg(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("IMAGEGRAM_EVENT_LOG")
        .env("IMAGEGRAM_LOG_FILTER", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("imagegram starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("first line");
    let base = line
        .trim()
        .strip_prefix("imagegram listening on ")
        .expect("announces its address")
        .to_owned();
    Running { child, base }
}

fn stop_within(mut running: Running, limit: Duration) -> std::process::ExitStatus {
    let pid = running.child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    let started = Instant::now();
    loop {
        if let Some(status) = running.child.try_wait().expect("wait") {
            return status;
        }
        assert!(started.elapsed() < limit, "still running {limit:?} after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serve_starts_with_nothing_else_running_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start(dir.path());
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", running.base))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), 200);
    let ready = client
        .get(format!("{}/readyz", running.base))
        .send()
        .await
        .expect("readyz answers");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["checks"]["log"], "ok");
    let status = stop_within(running, Duration::from_secs(10));
    assert!(status.success(), "clean exit after SIGTERM, got {status}");
    assert!(
        dir.path().join("log").join("log.redb").exists(),
        "embedded data under --data-dir"
    );
}

#[tokio::test]
async fn openapi_lists_every_route_with_its_schemas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start(dir.path());
    let spec: serde_json::Value = reqwest::get(format!("{}/openapi.json", running.base))
        .await
        .expect("openapi answers")
        .json()
        .await
        .expect("json");
    assert!(
        spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1: {}",
        spec["openapi"]
    );
    let routes = [
        ("/v1/posts", "post"),
        ("/v1/posts/{id}", "get"),
        ("/v1/posts/{id}/comments", "post"),
        ("/v1/posts/{id}/comments/{comment_id}", "delete"),
        ("/v1/images/{file}", "get"),
        ("/image/upload", "post"),
        ("/comment", "post"),
        ("/post", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ];
    for (path, method) in routes {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} is missing"
        );
    }
    for schema in [
        "PostJson",
        "CommentJson",
        "NewComment",
        "Problem",
        "OldComment",
        "OldFeed",
    ] {
        assert!(
            spec["components"]["schemas"][schema].is_object(),
            "schema {schema} is missing"
        );
    }
    stop_within(running, Duration::from_secs(10));
}
