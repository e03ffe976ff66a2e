//! Settings every role shares. Each has a flag and an `IMAGEGRAM_*`
//! environment variable; the defaults run everything embedded under `./data`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use imagegram_eventlog::embedded::Durability;
use imagegram_eventlog::kafka::KafkaConfig;
use imagegram_eventlog::LogConfig;

use crate::PlatformError;

/// Where data lives, how logs look, how long shutdown may take.
#[derive(Debug, Clone, Args)]
pub struct CommonSettings {
    /// Directory for embedded data: the event log, read tables, blobs, secrets.
    #[arg(long, env = "IMAGEGRAM_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Log line format.
    #[arg(long, env = "IMAGEGRAM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Which logs to show, as a tracing filter (e.g. `info,imagegram_eventlog=debug`).
    #[arg(long, env = "IMAGEGRAM_LOG_FILTER", default_value = "info", global = true)]
    pub log_filter: String,

    /// Seconds a shutdown may take before the process exits regardless.
    #[arg(
        long,
        env = "IMAGEGRAM_SHUTDOWN_GRACE_SECS",
        default_value_t = 9,
        global = true
    )]
    pub shutdown_grace_secs: u64,
}

impl CommonSettings {
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogBackend {
    /// The durable log inside this process, under the data dir.
    Embedded,
    /// A Kafka cluster (`--kafka-brokers`).
    Kafka,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogDurability {
    /// fsync before acknowledging an append (survives power loss).
    Fsync,
    /// Acknowledge without a sync: redb keeps such commits in its own
    /// memory until a synced one, so a killed process (or a full disk it
    /// never meets) loses them. For tests and throw-away data only.
    Process,
}

/// Which event log to use.
#[derive(Debug, Clone, Args)]
pub struct LogSettings {
    /// Event log backend.
    #[arg(long = "event-log", env = "IMAGEGRAM_EVENT_LOG", value_enum, default_value_t = LogBackend::Embedded, global = true)]
    pub event_log: LogBackend,

    /// Kafka bootstrap servers, `host:port[,host:port…]` (with `--event-log kafka`).
    #[arg(long, env = "IMAGEGRAM_KAFKA_BROKERS", global = true)]
    pub kafka_brokers: Option<String>,

    /// Kafka consumer-group session timeout in milliseconds.
    #[arg(
        long,
        env = "IMAGEGRAM_KAFKA_SESSION_TIMEOUT_MS",
        default_value_t = 6000,
        global = true
    )]
    pub kafka_session_timeout_ms: u64,

    /// The most an append waits for Kafka to acknowledge it. Past it the
    /// append fails (a write answers 503 with `Retry-After`) instead of
    /// hanging while the brokers are away.
    #[arg(
        long,
        env = "IMAGEGRAM_KAFKA_DELIVERY_TIMEOUT",
        default_value = "5s",
        value_parser = humantime::parse_duration,
        global = true
    )]
    pub kafka_delivery_timeout: Duration,

    /// Prefix of every topic and consumer-group name, to share a cluster
    /// between deployments (e.g. `staging.`).
    #[arg(long, env = "IMAGEGRAM_TOPIC_PREFIX", default_value = "", global = true)]
    pub topic_prefix: String,

    /// When the embedded log acknowledges an append.
    #[arg(long = "event-log-durability", env = "IMAGEGRAM_EVENT_LOG_DURABILITY", value_enum, default_value_t = LogDurability::Fsync, global = true)]
    pub log_durability: LogDurability,
}

impl LogSettings {
    /// The log configuration these settings describe.
    pub fn config(&self, common: &CommonSettings, client_id: &str) -> Result<LogConfig, PlatformError> {
        Ok(match self.event_log {
            LogBackend::Embedded => LogConfig::Embedded {
                dir: common.data_dir.join("log"),
                durability: match self.log_durability {
                    LogDurability::Fsync => Durability::Fsync,
                    LogDurability::Process => Durability::Process,
                },
            },
            LogBackend::Kafka => {
                let brokers = self
                    .kafka_brokers
                    .clone()
                    .filter(|b| !b.is_empty())
                    .ok_or(PlatformError::MissingBrokers)?;
                let mut kafka = KafkaConfig::new(brokers);
                kafka.client_id = client_id.to_owned();
                kafka.session_timeout = Duration::from_millis(self.kafka_session_timeout_ms);
                kafka.delivery_timeout = self.kafka_delivery_timeout;
                LogConfig::Kafka(kafka)
            }
        })
    }
}
