//! # imagegram-testkit
//!
//! What tests of several crates share: each port's adapters opened fresh
//! and isolated for one test — the embedded log, files and SQLite under a
//! directory, or Kafka (a topic prefix of its own), S3 (a bucket of its
//! own) and MySQL (a database of its own) from `IMAGEGRAM_TEST_*`. Never a
//! dependency of shipped code.
//!
//! ## Layout
//! - `lib.rs`: [`Stack`], [`embedded`], [`distributed`] and one opener per adapter.
//! - `eventually.rs`: waiting on a condition with a deadline that says
//!   what never happened, instead of sleeping.
//! - `services.rs`: finding a test's services; a missing one fails the
//!   test under `./x test` and CI, and is a reported skip elsewhere.
//! - `colour.rs`: pictures in other colour spaces (ICC profiles written
//!   here, pixels converted into them) for the conversion's colour tests.
//! - `workload.rs`: reproducible traffic (posts, skewed comments, deletes,
//!   forged deletes) and the counts it must leave.

pub mod colour;
pub mod eventually;
pub mod services;
pub mod workload;

pub use eventually::{eventually, eventually_blocking};
pub use services::{service, service_for, skip, skip_test};

use std::path::Path;
use std::sync::Arc;

use imagegram_blobstore::files::FileStore;
use imagegram_blobstore::s3::{S3Config, S3Store};
use imagegram_blobstore::BlobStore;
use imagegram_eventlog::embedded::{Durability, EmbeddedLog};
use imagegram_eventlog::kafka::{KafkaConfig, KafkaLog};
use imagegram_eventlog::{EventLog, Namespaced, TopicSpec};
use imagegram_readstore::{ReadModel, ReadStores, SqlStore};
use imagegram_schemas::topics;
use sqlx::Connection;

/// A log with every topic created, a read store and a blob store.
#[derive(Clone)]
pub struct Stack {
    pub name: &'static str,
    pub log: Arc<dyn EventLog>,
    pub stores: ReadStores,
    pub blobs: Arc<dyn BlobStore>,
}

/// A configured service address, if any.
pub fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

async fn with_topics(log: Arc<dyn EventLog>) -> Arc<dyn EventLog> {
    let specs: Vec<TopicSpec> = topics::all()
        .iter()
        .map(|t| TopicSpec::new(t.name, t.partitions))
        .collect();
    log.create_topics(&specs).await.expect("create topics");
    log
}

/// The embedded log (every topic) under `dir`.
pub async fn embedded_log(dir: &Path) -> Arc<dyn EventLog> {
    with_topics(Arc::new(
        EmbeddedLog::open(&dir.join("log"), Durability::Process).expect("embedded log"),
    ))
    .await
}

/// Kafka under a topic prefix of this test's own, every topic created.
pub async fn kafka_log() -> Option<Arc<dyn EventLog>> {
    let mut config = KafkaConfig::new(service("IMAGEGRAM_TEST_KAFKA_BROKERS", "Apache Kafka")?);
    config.client_id = "imagegram-test".into();
    let kafka: Arc<dyn EventLog> = Arc::new(KafkaLog::connect(config).expect("kafka client"));
    Some(with_topics(Namespaced::wrap(kafka, &format!("{}.", unique("test-")))).await)
}

/// S3 with a bucket of this test's own.
pub async fn s3_store() -> Option<Arc<dyn BlobStore>> {
    let mut config = S3Config::new(unique("imagegram-test-"));
    config.endpoint = Some(service("IMAGEGRAM_TEST_S3_ENDPOINT", "an S3 server (moto)")?);
    config.path_style = true;
    config.access_key_id = Some("test".into());
    config.secret_access_key = Some("test".into());
    config.part_size = 5 * 1024 * 1024;
    Some(Arc::new(S3Store::connect(config).await.expect("s3 store")))
}

/// The URL of a new, empty MySQL database of this test's own on the
/// server `IMAGEGRAM_TEST_MYSQL_URL` names, or `None` when it is not set.
/// Its name carries its creation time (`imagegram_test_<unix seconds>_…`):
/// `dev/mariadb.sh` drops the ones hours old, never those of a run still
/// going beside it.
pub async fn mysql_database() -> Option<String> {
    let url = service("IMAGEGRAM_TEST_MYSQL_URL", "MariaDB")?;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let name = unique(&format!("imagegram_test_{created}_"));
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&url)
        .await
        .expect("connect to MySQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}

/// MySQL with a database of this test's own, migrated, and a pool of `connections`.
pub async fn mysql_store_with(connections: u32) -> Option<ReadStores> {
    let url = mysql_database().await?;
    Some(ReadStores::of(
        SqlStore::connect(&url, connections).await.expect("mysql store"),
    ))
}

/// The rows of `_sqlx_migrations` on `connection`: (version, finished),
/// by version; `None` while the table does not exist yet.
pub async fn migration_rows(connection: &mut sqlx::MySqlConnection) -> Option<Vec<(i64, bool)>> {
    sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(connection)
        .await
        .ok()
}

/// MySQL with a database of this test's own, migrated.
pub async fn mysql_store() -> Option<ReadStores> {
    mysql_store_with(8).await
}

/// The embedded stack: log, SQLite and files under `dir`.
pub async fn embedded(dir: &Path) -> Stack {
    let log = embedded_log(dir).await;
    Stack {
        name: "embedded",
        stores: ReadStores::embedded(dir, &*log).await.expect("sqlite stores"),
        log,
        blobs: Arc::new(FileStore::open(&dir.join("blobs")).expect("file store")),
    }
}

/// Kafka, MySQL and S3, or `None` when one is not configured (a failure
/// under `./x test` and CI, see [`services`]).
pub async fn distributed() -> Option<Stack> {
    Some(Stack {
        name: "distributed",
        log: kafka_log().await?,
        stores: mysql_store().await?,
        blobs: s3_store().await?,
    })
}

/// Waits until `projection` has read `total` records in all, failing after `patience`.
pub async fn caught_up(store: &dyn ReadModel, projection: &str, total: u64, patience: std::time::Duration) {
    let deadline = std::time::Instant::now() + patience;
    loop {
        let done: u64 = store
            .positions(projection)
            .await
            .expect("positions")
            .iter()
            .map(|p| p.offset)
            .sum();
        if done >= total {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{projection} read {done} of {total} records"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Two tests of `scenario: async fn(Stack)`: `embedded` (log, SQLite and
/// files in a temporary directory) and `distributed` (Kafka, MySQL and S3;
/// failing when they are not configured under `./x test` and CI, a
/// reported skip elsewhere). With several
/// scenarios, each gets a module of its name holding its two tests. The
/// calling crate needs `tokio` and `tempfile`.
#[macro_export]
macro_rules! on_both_stacks {
    ($first:ident, $($scenario:ident),+ $(,)?) => {
        mod $first {
            $crate::on_both_stacks!(super::$first);
        }
        $(mod $scenario {
            $crate::on_both_stacks!(super::$scenario);
        })+
    };
    ($($scenario:ident)::+) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn embedded() {
            let dir = tempfile::tempdir().expect("temp dir");
            $($scenario)::+($crate::embedded(dir.path()).await).await;
        }

        /// On Kafka, MySQL and S3 (moto) when configured.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn distributed() {
            if let Some(stack) = $crate::distributed().await {
                $($scenario)::+(stack).await;
            }
        }
    };
}
