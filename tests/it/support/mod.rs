//! Starting the real binary for HTTP tests: embedded, or on Kafka + S3 +
//! MySQL when their addresses are set (each run isolated by its own topic
//! prefix, bucket and database).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

mod client;
pub mod cluster;
pub mod cut_proxy;
pub mod kafka_node;
pub mod server_sockets;
pub mod tmpfs;
pub mod tus;
#[allow(unused_imports)] // not every test binary uses every call
pub use client::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_imagegram");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Infra {
    /// Nothing outside the process.
    Embedded,
    /// Kafka, S3 and MySQL from `IMAGEGRAM_TEST_*`.
    Distributed,
}

pub struct App {
    pub(crate) child: Child,
    pub base: String,
    /// Where it serves `GET /metrics`: a loopback listener of its own.
    pub metrics: String,
    pub data: tempfile::TempDir,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) role: String,
    pub client: reqwest::Client,
    /// What the server wrote to stderr (also passed on to the test's).
    pub(crate) logs: Logs,
}

/// A child's stderr, kept as it arrives and passed on to the test's own.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<String>>);

impl Logs {
    fn follow(stderr: std::process::ChildStderr) -> Logs {
        let logs = Logs::default();
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let mut text = kept.0.lock().unwrap_or_else(|p| p.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        logs
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The environment for `infra`, or `None` when its services are not
/// configured (a failure under `./x test` and CI: `imagegram_testkit::services`).
pub fn environment(infra: Infra, test: &str) -> Option<Vec<(String, String)>> {
    let mut env = vec![("IMAGEGRAM_LOG_FILTER".to_owned(), "warn".to_owned())];
    // Tests send far more than a person would; `rate_limits.rs` turns the
    // limits back on.
    for limit in ["COMMENTS", "DELETES", "POSTS", "UPLOADS", "READS"] {
        env.push((format!("IMAGEGRAM_{limit}_PER_MINUTE"), "0".to_owned()));
    }
    if infra == Infra::Embedded {
        env.push(("IMAGEGRAM_EVENT_LOG_DURABILITY".into(), "process".into()));
        return Some(env);
    }
    use imagegram_testkit::service_for;
    let brokers = service_for(test, "IMAGEGRAM_TEST_KAFKA_BROKERS", "Apache Kafka")?;
    let s3 = service_for(test, "IMAGEGRAM_TEST_S3_ENDPOINT", "an S3 server (moto)")?;
    service_for(test, "IMAGEGRAM_TEST_MYSQL_URL", "MariaDB")?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let database = mysql_database_blocking();
    env.extend([
        ("IMAGEGRAM_EVENT_LOG".to_owned(), "kafka".to_owned()),
        ("IMAGEGRAM_KAFKA_BROKERS".into(), brokers),
        ("IMAGEGRAM_TOPIC_PREFIX".into(), format!("t{run}.")),
        ("IMAGEGRAM_BLOB_STORE".into(), "s3".into()),
        ("IMAGEGRAM_S3_ENDPOINT".into(), s3),
        ("IMAGEGRAM_S3_BUCKET".into(), format!("imagegram-{run}")),
        ("IMAGEGRAM_S3_PATH_STYLE".into(), "true".into()),
        ("IMAGEGRAM_S3_ACCESS_KEY_ID".into(), "test".into()),
        ("IMAGEGRAM_S3_SECRET_ACCESS_KEY".into(), "test".into()),
        ("IMAGEGRAM_DATABASE_URL".into(), database),
    ]);
    Some(env)
}

/// A new database of this run's own (the test kit makes it), from any
/// context: tests call [`environment`] inside and outside a runtime.
pub fn mysql_database_blocking() -> String {
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(imagegram_testkit::mysql_database())
            .expect("IMAGEGRAM_TEST_MYSQL_URL is set")
    })
    .join()
    .expect("create a test database")
}

/// A gateway just started: the child, its addresses and its stderr.
pub(crate) struct Spawned {
    pub child: Child,
    pub base: String,
    pub metrics: String,
    pub logs: Logs,
}

/// `imagegram <role>` (`serve` or `ingest`), its API and its metrics each
/// on a free port.
pub(crate) fn spawn(data: &std::path::Path, env: &[(String, String)], role: &str) -> Spawned {
    let mut command = Command::new(BIN);
    command.arg("--data-dir").arg(data).args([
        role,
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
    ]);
    for key in [
        "IMAGEGRAM_EVENT_LOG",
        "IMAGEGRAM_DATABASE_URL",
        "IMAGEGRAM_BLOB_STORE",
        "IMAGEGRAM_JWT_SECRET",
    ] {
        command.env_remove(key);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("imagegram starts");
    let logs = Logs::follow(child.stderr.take().expect("stderr"));
    let stdout = child.stdout.take().expect("stdout");
    // The metrics listener is announced first, then the API's.
    let mut lines = BufReader::new(stdout).lines();
    let mut announced = |what: &str| {
        let line = lines.next().and_then(Result::ok).unwrap_or_default();
        match line.trim().strip_prefix(what) {
            Some(address) => address.to_owned(),
            None => panic!("announces `{what}...`, not {line:?}; stderr:\n{}", logs.text()),
        }
    };
    let metrics = announced("imagegram metrics on ");
    let base = announced("imagegram listening on ");
    Spawned {
        child,
        base,
        metrics,
        logs,
    }
}

impl App {
    /// Starts `imagegram <role>` (`serve` or `ingest`) on a free port.
    pub fn start(infra: Infra, role: &str, test: &str) -> Option<App> {
        App::start_with(infra, role, test, &[])
    }

    /// [`App::start`] with `settings` (`IMAGEGRAM_*` variables) added.
    pub fn start_with(infra: Infra, role: &str, test: &str, settings: &[(&str, &str)]) -> Option<App> {
        let mut env = environment(infra, test)?;
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Some(App::start_in(tempfile::tempdir().expect("temp dir"), env, role))
    }

    /// `imagegram <role>` on `data` (which may hold a log already) and `env`.
    pub fn start_in(data: tempfile::TempDir, env: Vec<(String, String)>, role: &str) -> App {
        let Spawned {
            child,
            base,
            metrics,
            logs,
        } = spawn(data.path(), &env, role);
        App {
            child,
            base,
            metrics,
            data,
            env,
            role: role.to_owned(),
            client: reqwest::Client::new(),
            logs,
        }
    }

    /// What the server has written to stderr so far.
    pub fn logs(&self) -> String {
        self.logs.text()
    }

    /// `imagegram <args>` as an operator runs it beside this server: its
    /// data dir, services and secret; warnings only.
    pub fn tool(&self, args: &[&str]) -> std::process::Output {
        let mut command = self.command(args);
        command
            .env_remove("IMAGEGRAM_SERVER")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("IMAGEGRAM_LOG_FILTER", "warn");
        command.output().expect("imagegram runs")
    }

    /// Stops the server (SIGTERM) and starts it again on the same data and
    /// services; it listens on a new port.
    pub fn restart(&mut self) {
        self.stop_within(std::time::Duration::from_secs(10));
        self.start_again();
    }

    /// Kills the server (SIGKILL) and starts it again on the same data and
    /// services; it listens on a new port.
    pub fn crash_and_start(&mut self) {
        self.kill();
        self.start_again();
    }

    fn start_again(&mut self) {
        let started = spawn(self.data.path(), &self.env, &self.role);
        self.child = started.child;
        self.base = started.base;
        self.metrics = started.metrics;
        self.logs = started.logs;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `imagegram <args>` on this app's data dir and secret.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .arg("--data-dir")
            .arg(self.data.path())
            .args(args)
            .env_remove("IMAGEGRAM_JWT_SECRET");
        command
    }

    /// A token for `user` from `imagegram token`, with this app's secret.
    pub fn token(&self, user: &str) -> String {
        let out = self.command(&["token", user]).output().expect("imagegram token");
        assert!(
            out.status.success(),
            "token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Sends SIGTERM and waits for the exit, failing past `limit`.
    pub fn stop_within(&mut self, limit: std::time::Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(started.elapsed() < limit, "still running {limit:?} after SIGTERM");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Kills the server outright (SIGKILL): no drain, nothing withdrawn.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Resident and peak resident memory of the server, in KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("proc status");
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{}/status", self.child.id()))
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key` in an environment from [`environment`].
pub fn value<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Appends `events` to the log a process started with `env` and
/// `--data-dir data` will open: Kafka under the environment's topic
/// prefix, or the embedded log in `data` (closed again before returning).
pub async fn fill_log(data: &std::path::Path, env: &[(String, String)], events: &[imagegram_schemas::Event]) {
    let log = open_log(data, env).await;
    imagegram_testkit::workload::append_all(&*log, events, 1_000).await;
}

/// The log a process started with `env` and `--data-dir data` will open,
/// with every topic created (the embedded one is closed when dropped).
pub async fn open_log(
    data: &std::path::Path,
    env: &[(String, String)],
) -> std::sync::Arc<dyn imagegram_eventlog::EventLog> {
    use imagegram_eventlog::EventLog;
    let log: std::sync::Arc<dyn EventLog> = match value(env, "IMAGEGRAM_KAFKA_BROKERS") {
        Some(brokers) => {
            let config = imagegram_eventlog::kafka::KafkaConfig::new(brokers);
            let kafka = imagegram_eventlog::kafka::KafkaLog::connect(config).expect("kafka");
            let prefix = value(env, "IMAGEGRAM_TOPIC_PREFIX").unwrap_or_default();
            imagegram_eventlog::Namespaced::wrap(std::sync::Arc::new(kafka), prefix)
        }
        None => {
            let durability = imagegram_eventlog::embedded::Durability::Fsync;
            std::sync::Arc::new(
                imagegram_eventlog::embedded::EmbeddedLog::open(&data.join("log"), durability).expect("log"),
            )
        }
    };
    let specs: Vec<imagegram_eventlog::TopicSpec> = imagegram_schemas::topics::all()
        .iter()
        .map(|t| imagegram_eventlog::TopicSpec::new(t.name, t.partitions))
        .collect();
    log.create_topics(&specs).await.expect("topics");
    log
}

/// Runs each named `async fn(Infra)` as two tests: `embedded::name` and
/// `distributed::name` (which passes without running when the services
/// are not configured).
macro_rules! on_both {
    ($($name:ident),*) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::support::Infra::Embedded).await })*
        }
        mod distributed {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::support::Infra::Distributed).await })*
        }
    };
}
