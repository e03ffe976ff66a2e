//! The one contract every event-log adapter must honour. Each adapter's test
//! file implements [`Backend`] and expands [`contract_suite!`].

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::{Delivered, EventLog, LogReader, TopicSpec};

mod appends;
mod groups;
pub use appends::*;
pub use groups::*;

/// A place where logs live; `open` twice in a row is a restart.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    async fn open(&self) -> Arc<dyn EventLog>;
    /// How long to wait for records that were already appended.
    fn patience(&self) -> Duration;
}

pub fn unique_topic(test: &str) -> String {
    format!("contract.{test}.{}", uuid::Uuid::new_v4().simple())
}

async fn new_topic(log: &dyn EventLog, test: &str, partitions: u32) -> String {
    let name = unique_topic(test);
    log.create_topics(&[TopicSpec::new(&name, partitions)])
        .await
        .expect("topic created");
    name
}

/// Reads until `expected` records came, then a little longer to catch extras.
pub async fn read_exactly(reader: &mut dyn LogReader, expected: usize, patience: Duration) -> Vec<Delivered> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut out = Vec::with_capacity(expected);
    while out.len() < expected && tokio::time::Instant::now() < deadline {
        out.extend(
            reader
                .poll(10_000, Duration::from_millis(500))
                .await
                .expect("poll"),
        );
    }
    out.extend(
        reader
            .poll(10_000, Duration::from_millis(300))
            .await
            .expect("poll"),
    );
    assert_eq!(
        out.len(),
        expected,
        "read {} records, expected {expected}",
        out.len()
    );
    out
}

/// Value → (partition, offset), asserting every value is seen once.
fn index_by_value(records: &[Delivered]) -> HashMap<Vec<u8>, (u32, u64)> {
    let mut seen = HashMap::new();
    for r in records {
        assert!(
            seen.insert(r.value.clone(), (r.partition, r.offset)).is_none(),
            "duplicate record {:?}",
            r.value
        );
    }
    seen
}

/// For each key, its values in the order they were read.
fn values_by_key(records: &[Delivered]) -> BTreeMap<Vec<u8>, Vec<Vec<u8>>> {
    let mut by_key: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for r in records {
        by_key.entry(r.key.clone()).or_default().push(r.value.clone());
    }
    by_key
}

fn value(key: usize, seq: usize) -> Vec<u8> {
    format!("k{key:05}:s{seq:06}").into_bytes()
}

fn key(key: usize) -> Vec<u8> {
    format!("post-{key}").into_bytes()
}

/// Expands to one test per contract clause for a backend. `$backend` is an
/// expression giving `Option<impl Backend>`; `None` skips with a message.
#[macro_export]
macro_rules! contract_suite {
    ($backend:expr) => {
        $crate::contract_suite!(@tests $backend;
            order_per_key, read_from_an_offset, restart_loses_and_duplicates_nothing,
            concurrent_producers, a_batch_of_100k, group_members_share_partitions_and_resume_from_commits,
            a_group_left_empty_resumes_from_its_commits);
    };
    (@tests $backend:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                match $backend {
                    Some(backend) => contract::$name(&backend).await,
                    // Its opener reported the missing service (a failure under
                    // ./x test and CI).
                    None => {}
                }
            }
        )*
    };
}
