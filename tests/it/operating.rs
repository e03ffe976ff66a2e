//! Operating Imagegram: a real Prometheus scrapes `/metrics` on the
//! metrics listener (the public API does not serve it) and answers PromQL
//! over it (and `promtool` accepts the exposition), request ids follow a
//! post from its upload to the converter's log, `imagegram status` and
//! `dlq list` tell lag and dead letters (through the running server when
//! it holds the embedded log), and `process`/`project` serve their metrics
//! on `--metrics-listen`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use imagegram_eventlog::Record;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::cluster::Cluster;
use crate::support::{comment, environment, get_json, image_form, open_log, png, publish, App, Infra};

/// Debian's `prometheus` package, named by `./x services`.
fn prometheus_binary(test: &str) -> Option<String> {
    imagegram_testkit::service_for(test, "IMAGEGRAM_TEST_PROMETHEUS", "Prometheus")
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// A Prometheus server of the test's own, scraping one target every second.
struct Prometheus {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(binary: &str, target: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        let scrape = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: imagegram\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(&config, scrape).expect("config written");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// Asks `query` until `accept` takes its result, for at most `patience`.
    async fn query_until(
        &self,
        query: &str,
        patience: Duration,
        accept: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let client = reqwest::Client::new();
        let started = Instant::now();
        let mut last = Value::Null;
        while started.elapsed() < patience {
            let answer = client
                .get(format!("{}/api/v1/query", self.base))
                .query(&[("query", query)])
                .send()
                .await;
            if let Ok(answer) = answer {
                if let Ok(body) = answer.json::<Value>().await {
                    if let Some(result) = body["data"]["result"].as_array() {
                        if accept(result) {
                            return result.clone();
                        }
                    }
                    last = body;
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("{query} never gave an acceptable answer in {patience:?}; the last: {last}");
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The sample of a PromQL vector element, as a number.
fn sample(element: &Value) -> f64 {
    element["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

async fn prometheus_scrapes_a_running_server(infra: Infra) {
    let test = "prometheus_scrapes_a_running_server";
    let Some(binary) = prometheus_binary(test) else {
        return;
    };
    let Some(app) = App::start(infra, "serve", test) else {
        return;
    };
    // Metrics on their own listener; the public API does not serve them.
    let public = app.client.get(app.url("/metrics")).send().await.expect("answer");
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let target = app
        .metrics
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let prometheus = Prometheus::start(&binary, &target);
    // Traffic after the first scrape, so the rates see it arrive.
    prometheus
        .query_until("up{job=\"imagegram\"}", Duration::from_secs(60), |r| {
            r.first().map(sample) == Some(1.0)
        })
        .await;
    let ann = app.token("ann");
    let mut posts = Vec::new();
    for caption in ["one", "two"] {
        posts.push(
            publish(&app, &ann, caption).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    // A route's series appears with its first request; a rate needs it
    // scraped before the rest arrive.
    let comments = "imagegram_http_request_duration_seconds_count{route=\"/v1/posts/{id}/comments\"}";
    for n in 0..12 {
        let answer = comment(&app, &ann, &posts[n % 2], &format!("comment {n}")).await;
        assert_eq!(answer.status(), StatusCode::CREATED);
        get_json(&app, "/v1/posts").await;
        if n == 0 {
            prometheus
                .query_until(comments, Duration::from_secs(30), |r| !r.is_empty())
                .await;
        }
    }

    let p99 = "histogram_quantile(0.99, sum by (le, route) \
               (rate(imagegram_http_request_duration_seconds_bucket{route=\"/v1/posts/{id}/comments\"}[1m])))";
    let result = prometheus
        .query_until(p99, Duration::from_secs(60), |r| {
            r.first().map(sample).is_some_and(|s| s.is_finite() && s > 0.0)
        })
        .await;
    assert_eq!(result[0]["metric"]["route"], "/v1/posts/{id}/comments");
    let lag = prometheus
        .query_until(
            "sum by (consumer) (imagegram_consumer_lag)",
            Duration::from_secs(60),
            |r| {
                let consumers: Vec<&str> = r
                    .iter()
                    .filter_map(|e| e["metric"]["consumer"].as_str())
                    .collect();
                ["imagegram.image-converter", "imagegram.projector", "gateway.feed"]
                    .iter()
                    .all(|c| consumers.contains(c))
            },
        )
        .await;
    assert!(lag.iter().all(|e| sample(e) >= 0.0), "{lag:?}");
    let published = prometheus
        .query_until(
            "sum(imagegram_conversion_duration_seconds_count{outcome=\"published\"})",
            Duration::from_secs(30),
            |r| r.first().map(sample) == Some(2.0),
        )
        .await;
    assert_eq!(sample(&published[0]), 2.0);
    prometheus
        .query_until("imagegram_build_info", Duration::from_secs(30), |r| {
            r.first()
                .is_some_and(|e| e["metric"]["commit"].as_str().is_some_and(|c| !c.is_empty()))
        })
        .await;

    // promtool accepts the exposition as it is served.
    let exposition = app
        .client
        .get(&app.metrics)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let promtool = std::path::Path::new(&binary).with_file_name("promtool");
    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    {
        use std::io::Write;
        let mut stdin = check.stdin.take().expect("stdin");
        stdin.write_all(exposition.as_bytes()).expect("exposition sent");
    }
    let checked = check.wait_with_output().expect("promtool ran");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        checked.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );

    // The compose file's scrape configuration is one Prometheus takes.
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/dev/compose/prometheus.yml");
    let checked = Command::new(&promtool)
        .args(["check", "config", config])
        .output()
        .expect("promtool ran");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    // The README's example queries parse and run.
    for query in README_QUERIES {
        prometheus
            .query_until(query, Duration::from_secs(10), |_| true)
            .await;
    }
}

/// The three queries "Operating it" in the README offers.
const README_QUERIES: [&str; 3] = [
    "histogram_quantile(0.99, sum by (le, route) (rate(imagegram_http_request_duration_seconds_bucket[5m])))",
    "sum by (consumer) (max by (consumer, topic, partition) (imagegram_consumer_lag))",
    "sum(rate(imagegram_conversion_duration_seconds_count{outcome=~\"failed|dead_lettered\"}[5m])) * 60",
];

async fn request_ids_follow_a_post_to_the_converter(infra: Infra) {
    let test = "request_ids_follow_a_post_to_the_converter";
    // Text lines embedded, JSON lines distributed: the id is in both.
    let format = if infra == Infra::Embedded { "text" } else { "json" };
    let settings = [("IMAGEGRAM_LOG_FILTER", "info"), ("IMAGEGRAM_LOG_FORMAT", format)];
    let Some(app) = App::start_with(infra, "serve", test, &settings) else {
        return;
    };
    let ann = app.token("ann");
    let id = format!("it-{}", uuid::Uuid::new_v4().simple());
    let answer = app
        .client
        .post(app.url("/v1/posts?wait=60"))
        .bearer_auth(&ann)
        .header("x-request-id", &id)
        .multipart(image_form(png(64, 48), "a.png", "traced"))
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), StatusCode::CREATED);
    assert_eq!(
        answer.headers()["x-request-id"],
        id.as_str(),
        "the client's id is echoed"
    );
    let post: Value = answer.json().await.expect("json");
    let post_id = post["id"].as_str().expect("id").to_owned();

    // The converter's line about the post names the upload's request.
    let line = imagegram_testkit::eventually(
        Duration::from_secs(120),
        "a converter line naming the upload's request",
        || async {
            let logs = app.logs();
            logs.lines()
                .find(|l| l.contains("converted") && l.contains(&id) && l.contains(&post_id))
                .map(str::to_owned)
                .ok_or_else(|| format!("no line names {id}:\n{logs}"))
        },
    )
    .await;
    if format == "json" {
        let parsed: Value = serde_json::from_str(&line).expect("a JSON log line");
        assert_eq!(parsed["span"]["request_id"], id.as_str(), "{line}");
    }
    // The event carries it, as an analyst replaying the topic sees.
    let replayed = app.tool(&["replay", "--topic", "imagegram.uploads"]);
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let rows = String::from_utf8_lossy(&replayed.stdout).into_owned();
    let row: Value = rows
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["post_id"] == post_id.as_str())
        .expect("the upload replayed");
    let event: Value = serde_json::from_str(row["event_json"].as_str().expect("event json")).expect("json");
    assert_eq!(event["meta"]["request_id"], id.as_str());

    // Without an id, or with one that could break a log line, a fresh one.
    for sent in [None, Some("two words"), Some(&*"x".repeat(200))] {
        let mut request = app.client.get(app.url("/v1/posts"));
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let answer = request.send().await.expect("answer");
        let given = answer.headers()["x-request-id"]
            .to_str()
            .expect("text")
            .to_owned();
        assert!(uuid::Uuid::parse_str(&given).is_ok(), "{sent:?} got {given}");
    }
}

/// The last number on the line of `status` that starts with `consumer`
/// and names `topic`.
fn status_figure(status: &str, consumer: &str, topic: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(consumer) && l.split_whitespace().nth(1) == Some(topic))
        .and_then(|l| {
            l.split_whitespace()
                .nth(if topic.contains(".dlq.") { 2 } else { 4 })
        })
        .and_then(|n| n.parse().ok())
}

async fn status_and_dead_letters_beside_a_running_server(infra: Infra) {
    let test = "status_and_dead_letters_beside_a_running_server";
    let Some(env) = environment(infra, test) else {
        return;
    };
    // A record no consumer can decode: both readers of the uploads topic
    // give up on it.
    let data = tempfile::tempdir().expect("temp dir");
    {
        let log = open_log(data.path(), &env).await;
        let garbage = Record::new(b"garbage".to_vec(), b"not an event".to_vec());
        log.append("imagegram.uploads", vec![garbage])
            .await
            .expect("appended");
    }
    let app = App::start_in(data, env, "serve");
    let ann = app.token("ann");
    let post = publish(&app, &ann, "counted").await;
    let id = post["id"].as_str().expect("id").to_owned();
    assert_eq!(
        comment(&app, &ann, &id, "hello").await.status(),
        StatusCode::CREATED
    );

    let started = Instant::now();
    let status = loop {
        let out = app.tool(&["status"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "status: {stderr}");
        if infra == Infra::Embedded {
            assert!(stderr.contains("asking http://"), "{stderr}");
        }
        let status = String::from_utf8_lossy(&out.stdout).into_owned();
        let settled = status_figure(&status, "imagegram.image-converter", "imagegram.uploads") == Some(0)
            && status_figure(&status, "imagegram.projector", "imagegram.comments") == Some(0)
            && status_figure(
                &status,
                "imagegram.image-converter",
                "imagegram.dlq.image-converter",
            ) == Some(1)
            && status_figure(&status, "imagegram.projector", "imagegram.dlq.projector") == Some(1);
        if settled {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never settled:\n{status}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(status.contains("open uploads: 0"), "{status}");
    assert!(status.contains(if infra == Infra::Embedded {
        "event log: embedded"
    } else {
        "event log: kafka"
    }));

    let listed = app.tool(&["dlq", "list"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let lines = String::from_utf8_lossy(&listed.stdout).into_owned();
    // Every reader of the uploads topic: both converter lanes and the projector.
    assert_eq!(lines.lines().count(), 3, "{lines}");
    assert!(
        lines
            .lines()
            .all(|l| l.contains("imagegram.uploads#") && l.contains("12 bytes")),
        "{lines}"
    );
    let one = app.tool(&["dlq", "list", "--consumer", "projector"]);
    let one = String::from_utf8_lossy(&one.stdout).into_owned();
    assert_eq!(one.lines().count(), 1, "{one}");
    assert!(
        one.starts_with("imagegram.projector\timagegram.dlq.projector#"),
        "{one}"
    );
}

on_both!(
    prometheus_scrapes_a_running_server,
    request_ids_follow_a_post_to_the_converter,
    status_and_dead_letters_beside_a_running_server
);

/// The roles without an HTTP API serve their metrics on `--metrics-listen`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_and_project_serve_metrics_on_their_own_port() {
    let Some(env) = Cluster::environment("process_and_project_serve_metrics_on_their_own_port") else {
        return;
    };
    let mut cluster = Cluster::new(env);
    let mut ports = Vec::new();
    for (role, consumer) in [
        ("process", "imagegram.image-converter"),
        ("project", "imagegram.projector"),
    ] {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        cluster.add_worker_with(role, &[("IMAGEGRAM_METRICS_LISTEN", &listen)]);
        ports.push((port, consumer));
    }
    let client = reqwest::Client::new();
    for (port, consumer) in ports {
        let started = Instant::now();
        let wanted = format!("imagegram_consumer_lag{{consumer=\"{consumer}\"");
        loop {
            let text = match client
                .get(format!("http://127.0.0.1:{port}/metrics"))
                .send()
                .await
            {
                Ok(answer) => answer.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(&wanted) && text.contains("imagegram_build_info{") {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{port} never served {wanted}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
