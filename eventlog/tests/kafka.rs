//! The contract suite against Kafka. Needs `IMAGEGRAM_TEST_KAFKA_BROKERS`
//! (`./x services` starts Apache Kafka and prints it); without it every
//! test fails under `./x test` and CI, and says it skipped elsewhere.

mod contract;

use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::kafka::{KafkaConfig, KafkaLog};
use imagegram_eventlog::EventLog;

struct Kafka {
    brokers: String,
}

#[async_trait::async_trait]
impl contract::Backend for Kafka {
    async fn open(&self) -> Arc<dyn EventLog> {
        let mut config = KafkaConfig::new(&self.brokers);
        config.client_id = "imagegram-contract".into();
        Arc::new(KafkaLog::connect(config).expect("kafka client"))
    }

    fn patience(&self) -> Duration {
        Duration::from_secs(120)
    }
}

fn kafka() -> Option<Kafka> {
    imagegram_testkit::service("IMAGEGRAM_TEST_KAFKA_BROKERS", "Apache Kafka")
        .map(|brokers| Kafka { brokers })
}

contract_suite!(kafka());
