//! The contract suite against Kafka. Needs `IMAGEGRAM_TEST_KAFKA_BROKERS`
//! (CI starts Tansu and sets it); without it every test says it skipped.

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
    std::env::var("IMAGEGRAM_TEST_KAFKA_BROKERS")
        .ok()
        .filter(|b| !b.is_empty())
        .map(|brokers| Kafka { brokers })
}

contract_suite!(kafka());
