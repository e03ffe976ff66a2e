//! A Kafka broker of a test's own, to stop and start again: the same
//! Apache Kafka as the shared test broker (its jars from
//! `IMAGEGRAM_TEST_KAFKA_LIBS`, which `./x services` sets), one KRaft node
//! on free loopback ports, with its data kept across restarts.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct KafkaNode {
    child: Option<Child>,
    dir: tempfile::TempDir,
    classpath: String,
    port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

impl KafkaNode {
    /// Formats and starts a node; `None` (with a note) without the jars.
    pub fn start(test: &str) -> Option<KafkaNode> {
        let libs = imagegram_testkit::service_for(test, "IMAGEGRAM_TEST_KAFKA_LIBS", "Kafka's jars")?;
        if !has_jars(&libs) {
            imagegram_testkit::skip_test(
                test,
                "Kafka's jars",
                &format!(
                    "IMAGEGRAM_TEST_KAFKA_LIBS names {libs}, which holds none; ./x services fetches them"
                ),
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let (port, controller) = (free_port(), free_port());
        let template =
            std::fs::read_to_string(repo().join("dev/kafka/server.properties")).expect("server.properties");
        let properties = template
            .replace("@DATA@", &dir.path().join("data").display().to_string())
            .replace("9092", &port.to_string())
            .replace("9093", &controller.to_string());
        std::fs::write(dir.path().join("server.properties"), properties).expect("write properties");
        let classpath = format!("{libs}/*");
        let node = KafkaNode {
            child: None,
            dir,
            classpath,
            port,
        };
        let format = Command::new("java")
            .args([
                "-cp",
                &node.classpath,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
            ])
            .arg(uuid_for_kafka())
            .arg("-c")
            .arg(node.properties())
            .output()
            .expect("java runs");
        assert!(
            format.status.success(),
            "format: {}",
            String::from_utf8_lossy(&format.stderr)
        );
        let mut node = node;
        node.run();
        Some(node)
    }

    fn properties(&self) -> PathBuf {
        self.dir.path().join("server.properties")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("kafka.log")
    }

    /// `host:port` of the broker.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker on its data and waits until it serves.
    pub fn run(&mut self) {
        let log = std::fs::File::create(self.log_path()).expect("log file");
        let child = Command::new("java")
            .args(["-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true"])
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                repo().join("dev/kafka/log4j2.properties").display()
            ))
            .args(["-cp", &self.classpath, "kafka.Kafka"])
            .arg(self.properties())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("kafka starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut text = String::new();
            if let Ok(mut file) = std::fs::File::open(self.log_path()) {
                let _ = file.read_to_string(&mut text);
            }
            if text.contains("Kafka Server started") {
                return;
            }
            assert!(Instant::now() < deadline, "Kafka did not start: {text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the broker (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn has_jars(dir: &str) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("kafka_2.13"))
        })
        .unwrap_or(false)
}

/// A Kafka cluster id: 16 random bytes, base64url without padding, drawn
/// again while it starts with `-`, as Kafka's own `random-uuid` does: the
/// storage tool takes such an id for an option and fails (`-t: expected
/// one argument`), which failed one test run in 64.
fn uuid_for_kafka() -> String {
    use base64::Engine;
    loop {
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
        if !id.starts_with('-') {
            return id;
        }
    }
}

impl Drop for KafkaNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn cluster_ids_never_start_with_a_dash() {
    // One draw in 64 starts with `-` before the redraw; 10,000 draws all
    // miss it with odds of about 1 in 10^68.
    for _ in 0..10_000 {
        let id = uuid_for_kafka();
        assert!(!id.starts_with('-') && id.len() == 22, "{id}");
    }
}
