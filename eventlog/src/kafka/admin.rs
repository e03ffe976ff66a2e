//! Topic creation and metadata.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::Client;
use rdkafka::error::RDKafkaErrorCode;

use super::context::Logs;
use super::{KafkaConfig, METADATA_TIMEOUT};
use crate::{LogError, TopicSpec};

/// Creates every topic that does not exist yet, with the cluster's default
/// replication factor (`default.replication.factor`).
pub(super) async fn create_topics(config: &KafkaConfig, topics: &[TopicSpec]) -> Result<(), LogError> {
    let admin: AdminClient<Logs> = config
        .client()
        .create_with_context(Logs::default())
        .map_err(LogError::kafka)?;
    let new: Vec<NewTopic> = topics
        .iter()
        .map(|t| NewTopic::new(&t.name, t.partitions as i32, TopicReplication::Fixed(-1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT));
    let results = admin
        .create_topics(new.iter(), &options)
        .await
        .map_err(LogError::kafka)?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(LogError::kafka(format!("creating {topic}: {code}"))),
        }
    }
    Ok(())
}

/// How many partitions the broker says a topic has.
pub(super) fn partition_count<C: rdkafka::ClientContext>(
    client: &Client<C>,
    topic: &str,
) -> Result<u32, LogError> {
    let metadata = client
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(LogError::kafka)?;
    let found = metadata.topics().iter().find(|t| t.name() == topic);
    match found {
        Some(t) if t.error().is_none() && !t.partitions().is_empty() => Ok(t.partitions().len() as u32),
        _ => Err(LogError::UnknownTopic(topic.to_owned())),
    }
}

/// How many partitions `topic` has, once the broker's metadata shows every
/// one of them with a leader: a new topic, or any topic on a broker just
/// started, is readable and writable only from then on.
pub(super) fn partitions_with_leaders<C: rdkafka::ClientContext>(
    client: &Client<C>,
    topic: &str,
) -> Option<u32> {
    let metadata = client.fetch_metadata(Some(topic), METADATA_TIMEOUT).ok()?;
    let found = metadata.topics().iter().find(|t| t.name() == topic)?;
    let ready = found.error().is_none()
        && !found.partitions().is_empty()
        && found
            .partitions()
            .iter()
            .all(|p| p.error().is_none() && p.leader() >= 0);
    ready.then(|| found.partitions().len() as u32)
}
