//! Picking a backend at start-up.

use std::path::PathBuf;
use std::sync::Arc;

use crate::embedded::{Durability, EmbeddedLog};
use crate::kafka::{KafkaConfig, KafkaLog};
use crate::{EventLog, LogError};

/// Which log to use.
#[derive(Debug, Clone)]
pub enum LogConfig {
    /// The embedded log, stored under `dir`.
    Embedded { dir: PathBuf, durability: Durability },
    /// A Kafka cluster.
    Kafka(KafkaConfig),
}

/// Opens the configured log.
pub fn open(config: &LogConfig) -> Result<Arc<dyn EventLog>, LogError> {
    Ok(match config {
        LogConfig::Embedded { dir, durability } => Arc::new(EmbeddedLog::open(dir, *durability)?),
        LogConfig::Kafka(kafka) => Arc::new(KafkaLog::connect(kafka.clone())?),
    })
}
