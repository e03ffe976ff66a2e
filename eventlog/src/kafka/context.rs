//! How librdkafka's own reports reach the logs. A broker that cannot be
//! reached is a warning: the clients reconnect by themselves, and the
//! callers' errors (503 upstream) and `/readyz` already say it. At error
//! level, a ten-second broker outage wrote about a hundred lines a process.
//! Everything else keeps librdkafka's level.

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// The context of every Kafka client this adapter makes: a group
/// member's names its group, for its rebalance lines.
#[derive(Default)]
pub(crate) struct Logs {
    pub(crate) group: Option<String>,
}

/// Whether a report is only that a broker is out of reach for now.
fn unreachable(facility: &str, error: Option<RDKafkaErrorCode>) -> bool {
    facility == "FAIL"
        || matches!(
            error,
            Some(RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown)
        )
}

impl ClientContext for Logs {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        use RDKafkaLogLevel as L;
        match level {
            L::Emerg | L::Alert | L::Critical | L::Error if !unreachable(facility, None) => {
                tracing::error!(target: "librdkafka", facility, "{message}")
            }
            L::Emerg | L::Alert | L::Critical | L::Error | L::Warning => {
                tracing::warn!(target: "librdkafka", facility, "{message}")
            }
            L::Notice | L::Info => tracing::info!(target: "librdkafka", facility, "{message}"),
            L::Debug => tracing::debug!(target: "librdkafka", facility, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if unreachable("", error.rdkafka_error_code()) {
            tracing::warn!(target: "librdkafka", %error, "{reason}");
        } else {
            tracing::error!(target: "librdkafka", %error, "{reason}");
        }
    }
}

/// A group member's partitions as they change, at info, so an operator
/// (or a test that failed) can see which member held what after a
/// coordinator came back.
impl ConsumerContext for Logs {
    fn post_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let group = self.group.as_deref().unwrap_or("");
        match rebalance {
            Rebalance::Assign(partitions) => {
                tracing::info!(group, partitions = partitions.count(), "partitions assigned")
            }
            Rebalance::Revoke(partitions) => {
                tracing::info!(group, partitions = partitions.count(), "partitions revoked")
            }
            Rebalance::Error(error) => tracing::warn!(group, %error, "rebalance failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreachable_brokers_are_softened() {
        assert!(unreachable("FAIL", None));
        assert!(unreachable("", Some(RDKafkaErrorCode::BrokerTransportFailure)));
        assert!(unreachable("", Some(RDKafkaErrorCode::AllBrokersDown)));
        assert!(!unreachable("", Some(RDKafkaErrorCode::MessageSizeTooLarge)));
        assert!(!unreachable("CONFWARN", None));
    }
}
