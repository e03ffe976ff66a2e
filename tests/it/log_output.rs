//! Logging never stops the server: with its stdout and stderr on a full
//! disk, on a pipe whose reader has exited, or on a pipe nobody reads, it
//! goes on serving, drops the lines it cannot write and counts them in
//! `imagegram_log_lines_dropped_total`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use imagegram_testkit::eventually;

use crate::support::server_sockets::listening_ports;
use crate::support::tmpfs::Tmpfs;
use crate::support::{environment, Infra, BIN};

/// `imagegram serve` with debug logs (a few lines a request) on `out`
/// for both stdout and stderr, its API and metrics on ports of its
/// choosing.
struct Server {
    child: Child,
    data: tempfile::TempDir,
}

impl Server {
    fn start(test: &str, out: impl Fn() -> Stdio) -> Server {
        let env = environment(Infra::Embedded, test).expect("the embedded mode needs nothing");
        let data = tempfile::tempdir().expect("data dir");
        let child = Command::new(BIN)
            .arg("--data-dir")
            .arg(data.path())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--metrics-listen",
                "127.0.0.1:0",
            ])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("IMAGEGRAM_LOG_FILTER", "debug")
            .stdin(Stdio::null())
            .stdout(out())
            .stderr(out())
            .spawn()
            .expect("imagegram starts");
        Server { child, data }
    }

    /// The API's base URL and the metrics URL, once both listen.
    async fn addresses(&mut self) -> (String, String) {
        let recorded = self.data.path().join("gateway.addr");
        let pid = self.child.id();
        let child = &mut self.child;
        let api = eventually(Duration::from_secs(120), "the server listens", || {
            let running = child.try_wait().ok().flatten().is_none();
            let address = std::fs::read_to_string(&recorded);
            async move {
                match (running, address) {
                    (false, _) => Err("the server exited".to_owned()),
                    (true, Ok(address)) => Ok(address.trim().to_owned()),
                    (true, Err(e)) => Err(format!("no gateway.addr yet: {e}")),
                }
            }
        })
        .await;
        let api_port: u16 = api
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        let metrics_port = eventually(Duration::from_secs(60), "the metrics listener", || {
            let ports = listening_ports(pid);
            async move {
                ports
                    .into_iter()
                    .find(|&port| port != api_port)
                    .ok_or_else(|| "only the API listens".to_owned())
            }
        })
        .await;
        (
            format!("http://{api}"),
            format!("http://127.0.0.1:{metrics_port}/metrics"),
        )
    }

    fn still_running(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    /// Reads the feed `reads` times (every answer 200), then waits for the
    /// metric to count lines dropped for `reason`, and checks the server
    /// is still running; prints what happened as `what`.
    async fn serves_on_dropping(&mut self, reads: usize, reason: &str, what: &str) {
        let (base, metrics) = self.addresses().await;
        read_the_feed(&base, reads).await;
        let lines = dropped(&metrics, reason).await;
        assert!(self.still_running(), "the server stopped");
        println!("{what}: {lines} lines dropped ({reason}), the server answered {reads} reads");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the feed `count` times, 8 at once; every answer must be 200.
async fn read_the_feed(base: &str, count: usize) {
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/posts?limit=5");
    let mut reads = futures::stream::iter(0..count)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            async move { client.get(&url).send().await.map(|r| r.status()) }
        })
        .buffer_unordered(8);
    while let Some(answer) = reads.next().await {
        let status = answer.expect("the server answers");
        assert_eq!(status, reqwest::StatusCode::OK);
    }
}

/// Waits until the metric counts at least one line dropped for `reason`.
async fn dropped(metrics: &str, reason: &str) -> u64 {
    let series = format!("imagegram_log_lines_dropped_total{{reason=\"{reason}\"}} ");
    eventually(
        Duration::from_secs(60),
        &format!("log lines counted as dropped: {reason}"),
        || async {
            let text = reqwest::get(metrics)
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            let count = text
                .lines()
                .find_map(|line| line.strip_prefix(&series))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0);
            if count > 0 {
                Ok(count)
            } else {
                Err(format!("none yet:\n{text}"))
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_and_stderr_on_a_full_disk() {
    let disk = Tmpfs::mount("1m");
    let log = disk.path().join("imagegram.log");
    std::fs::File::create(&log).expect("the log file");
    disk.fill();
    let mut server = Server::start("stdout_and_stderr_on_a_full_disk", || {
        Stdio::from(
            std::fs::OpenOptions::new()
                .append(true)
                .open(&log)
                .expect("the log file opens"),
        )
    });
    server.serves_on_dropping(500, "write_failed", "full disk").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_and_stderr_on_a_pipe_whose_reader_has_exited() {
    let mut server = Server::start(
        "stdout_and_stderr_on_a_pipe_whose_reader_has_exited",
        Stdio::piped,
    );
    // The reading ends close: every write then fails with EPIPE.
    drop(server.child.stdout.take());
    drop(server.child.stderr.take());
    server
        .serves_on_dropping(500, "write_failed", "closed pipe")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_and_stderr_on_a_pipe_nobody_reads() {
    // The reading ends stay open and unread: the pipe fills (64 KiB), the
    // log writer blocks, its queue fills, and requests go on.
    let mut server = Server::start("stdout_and_stderr_on_a_pipe_nobody_reads", Stdio::piped);
    // Debug logs write a few lines a read: enough to fill the pipe and the
    // queue of 8,192 lines behind it several times over.
    server
        .serves_on_dropping(12_000, "queue_full", "blocked pipe")
        .await;
}
