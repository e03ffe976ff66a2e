//! The contract suite against the namespace decorator, over the embedded log.

mod contract;

use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::embedded::{Durability, EmbeddedLog};
use imagegram_eventlog::{EventLog, Namespaced};

struct Prefixed {
    dir: tempfile::TempDir,
}

#[async_trait::async_trait]
impl contract::Backend for Prefixed {
    async fn open(&self) -> Arc<dyn EventLog> {
        let inner =
            Arc::new(EmbeddedLog::open(self.dir.path(), Durability::Process).expect("open embedded log"));
        Namespaced::wrap(inner, "tenant-a.")
    }

    fn patience(&self) -> Duration {
        Duration::from_secs(30)
    }
}

fn prefixed() -> Option<Prefixed> {
    Some(Prefixed {
        dir: tempfile::tempdir().expect("temp dir"),
    })
}

contract_suite!(prefixed());
