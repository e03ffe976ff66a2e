use thiserror::Error;

/// What a failure came from, kept as the error's source.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything the event log can fail with.
#[derive(Debug, Error)]
pub enum LogError {
    /// The topic was never created.
    #[error("topic {0} does not exist")]
    UnknownTopic(String),
    /// A position names a partition the topic does not have.
    #[error("topic {topic} has {partitions} partitions, there is no partition {partition}")]
    UnknownPartition {
        topic: String,
        partition: u32,
        partitions: u32,
    },
    /// The same topic was created earlier with another partition count.
    #[error("topic {topic} exists with {existing} partitions, {wanted} were asked for")]
    PartitionMismatch {
        topic: String,
        existing: u32,
        wanted: u32,
    },
    /// The embedded store failed (disk full, corruption, I/O).
    #[error("embedded log storage: {0}")]
    Storage(#[source] Cause),
    /// Another process has the embedded log open (it belongs to one).
    #[error("the embedded log {0} is open in another process")]
    InUse(String),
    /// The Kafka client or broker failed.
    #[error("kafka: {0}")]
    Kafka(#[source] Cause),
    /// The log is shutting down; nothing more is accepted.
    #[error("the event log is closed")]
    Closed,
}

impl LogError {
    pub(crate) fn storage(e: impl Into<Cause>) -> Self {
        LogError::Storage(e.into())
    }

    pub(crate) fn kafka(e: impl Into<Cause>) -> Self {
        LogError::Kafka(e.into())
    }

    /// Whether trying the same call again later can succeed: a broker or a
    /// disk that may come back. Naming a topic or partition that does not
    /// exist, a log open elsewhere or closed, or a record Kafka refuses for
    /// what it is, cannot.
    pub fn is_transient(&self) -> bool {
        match self {
            LogError::Storage(_) => true,
            LogError::Kafka(cause) => !cause
                .downcast_ref::<rdkafka::error::KafkaError>()
                .and_then(|e| e.rdkafka_error_code())
                .is_some_and(refused_for_what_it_is),
            LogError::UnknownTopic(_)
            | LogError::UnknownPartition { .. }
            | LogError::PartitionMismatch { .. }
            | LogError::InUse(_)
            | LogError::Closed => false,
        }
    }
}

/// Kafka's answers that no retry changes.
fn refused_for_what_it_is(code: rdkafka::types::RDKafkaErrorCode) -> bool {
    use rdkafka::types::RDKafkaErrorCode as Code;
    matches!(
        code,
        Code::MessageSizeTooLarge
            | Code::InvalidMessage
            | Code::InvalidMessageSize
            | Code::TopicAuthorizationFailed
            | Code::GroupAuthorizationFailed
            | Code::ClusterAuthorizationFailed
            | Code::UnknownTopic
            | Code::UnknownTopicOrPartition
            | Code::InvalidTopic
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;

    #[test]
    fn outages_are_transient_and_refusals_are_not() {
        let down = LogError::kafka(KafkaError::MessageProduction(
            RDKafkaErrorCode::BrokerTransportFailure,
        ));
        assert!(down.is_transient());
        let too_big = LogError::kafka(KafkaError::MessageProduction(
            RDKafkaErrorCode::MessageSizeTooLarge,
        ));
        assert!(!too_big.is_transient());
        assert!(LogError::storage("disk full").is_transient());
        assert!(!LogError::UnknownTopic("t".into()).is_transient());
        assert!(!LogError::Closed.is_transient());
    }

    #[test]
    fn the_cause_is_kept_as_the_source() {
        let e = LogError::kafka(KafkaError::MessageProduction(
            RDKafkaErrorCode::BrokerTransportFailure,
        ));
        let source = std::error::Error::source(&e).map(|s| s.to_string());
        assert!(
            source.is_some_and(|s| s.contains("Broker transport failure")),
            "{e:?}"
        );
    }
}
