//! The Kafka adapter, through `rdkafka` (librdkafka).
//!
//! Appends use an idempotent producer with `acks=all` and put each record in
//! the partition the shared murmur2 partitioner picks, so placement does not
//! depend on librdkafka's own partitioner setting. Readers from explicit
//! positions use manual assignment (no group membership, no commits); group
//! readers subscribe and commit synchronously. librdkafka's own reports
//! reach the logs through `context.rs`.

mod admin;
mod context;
mod offsets;
mod producer;
mod reader;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, Producer};

use crate::{Appended, EventLog, GroupReader, LogError, LogReader, Position, Record, TopicSpec};

/// How to reach the cluster.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    /// `host:port[,host:port…]`
    pub brokers: String,
    /// Shown in broker logs and metrics.
    pub client_id: String,
    /// Group session timeout; a dead member's partitions move after this long.
    pub session_timeout: Duration,
    /// The most an append waits to be acknowledged; past it, it fails with
    /// a transient error instead of waiting for brokers that are away.
    pub delivery_timeout: Duration,
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaConfig {
            brokers: brokers.into(),
            client_id: "imagegram".into(),
            session_timeout: Duration::from_secs(6),
            delivery_timeout: Duration::from_secs(5),
        }
    }

    pub(crate) fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", &self.client_id)
            .set("log_level", "4")
            // Back from an outage within a second of the brokers, not
            // after librdkafka's default of up to 10 s between attempts.
            .set("reconnect.backoff.max.ms", "1000")
            // A partition whose leader was lost with a broker waits for the
            // next metadata refresh to be fetched again. A reader that
            // joins no group (the projector) has nothing else to refresh
            // it, and librdkafka's default is every 5 minutes: after a
            // broker restart, one partition in 16 sat unread for minutes
            // ("new leader-1 not found in cache") while the rest went on.
            .set("topic.metadata.refresh.interval.ms", "5000");
        config
    }
}

/// Events on Kafka.
#[derive(Clone)]
pub struct KafkaLog {
    config: KafkaConfig,
    producer: FutureProducer<context::Logs>,
    partitions: Arc<RwLock<HashMap<String, u32>>>,
}

/// How long a metadata or watermark request may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

impl KafkaLog {
    /// Connects lazily: this only builds the clients.
    pub fn connect(config: KafkaConfig) -> Result<Self, LogError> {
        let producer = producer::build(&config)?;
        Ok(KafkaLog {
            config,
            producer,
            partitions: Arc::new(RwLock::new(HashMap::new())),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&FutureProducer<context::Logs>) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || f(&producer))
            .await
            .map_err(LogError::kafka)?
    }
}

#[async_trait]
impl EventLog for KafkaLog {
    fn backend(&self) -> &'static str {
        "kafka"
    }

    async fn create_topics(&self, topics: &[TopicSpec]) -> Result<(), LogError> {
        admin::create_topics(&self.config, topics).await?;
        // Kafka answers CreateTopics once the controller has the topics, a
        // moment before the brokers' metadata shows them with leaders (on a
        // broker just started, later still): wait for that.
        let deadline = tokio::time::Instant::now() + METADATA_TIMEOUT;
        for spec in topics {
            // One metadata request a round: the count it shows is cached.
            let actual = loop {
                let name = spec.name.clone();
                let ready = self
                    .blocking(move |p| Ok(admin::partitions_with_leaders(p.client(), &name)))
                    .await?;
                match ready {
                    Some(n) => {
                        self.partitions
                            .write()
                            .map_err(|_| LogError::kafka("cache poisoned"))?
                            .insert(spec.name.clone(), n);
                        break n;
                    }
                    None if tokio::time::Instant::now() >= deadline => {
                        break self.partitions(&spec.name).await?
                    }
                    None => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            if actual != spec.partitions {
                return Err(LogError::PartitionMismatch {
                    topic: spec.name.clone(),
                    existing: actual,
                    wanted: spec.partitions,
                });
            }
        }
        Ok(())
    }

    async fn partitions(&self, topic: &str) -> Result<u32, LogError> {
        if let Some(&n) = self
            .partitions
            .read()
            .map_err(|_| LogError::kafka("cache poisoned"))?
            .get(topic)
        {
            return Ok(n);
        }
        let name = topic.to_owned();
        let n = self
            .blocking(move |p| admin::partition_count(p.client(), &name))
            .await?;
        self.partitions
            .write()
            .map_err(|_| LogError::kafka("cache poisoned"))?
            .insert(topic.to_owned(), n);
        Ok(n)
    }

    async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Appended>, LogError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let partitions = self.partitions(topic).await?;
        producer::append(&self.producer, topic, partitions, records).await
    }

    async fn end_offsets(&self, topic: &str) -> Result<Vec<u64>, LogError> {
        let partitions = self.partitions(topic).await?;
        offsets::end_offsets(&self.producer, topic, partitions).await
    }

    async fn committed_offsets(&self, group: &str, topic: &str) -> Result<Vec<u64>, LogError> {
        let partitions = self.partitions(topic).await?;
        offsets::committed_offsets(&self.config, group, topic, partitions).await
    }

    async fn read_from(&self, positions: Vec<Position>) -> Result<Box<dyn LogReader>, LogError> {
        for p in &positions {
            let partitions = self.partitions(&p.topic).await?;
            if p.partition >= partitions {
                return Err(LogError::UnknownPartition {
                    topic: p.topic.clone(),
                    partition: p.partition,
                    partitions,
                });
            }
        }
        Ok(Box::new(reader::KafkaReader::assigned(&self.config, &positions)?))
    }

    async fn join_group(&self, group: &str, topics: &[String]) -> Result<Box<dyn GroupReader>, LogError> {
        for topic in topics {
            self.partitions(topic).await?;
        }
        Ok(Box::new(reader::KafkaReader::group(&self.config, group, topics)?))
    }

    async fn check(&self) -> Result<(), LogError> {
        self.blocking(|p| {
            p.client()
                .fetch_metadata(None, METADATA_TIMEOUT)
                .map(drop)
                .map_err(LogError::kafka)
        })
        .await
    }
}
