//! Projection throughput: events per second one projector folds into the
//! read tables, from a log already holding a realistic workload (1,000
//! posts, 100,000 comments on a skewed spread, a tenth deleted, forged
//! deletes). Against MariaDB (`IMAGEGRAM_TEST_MYSQL_URL`) and SQLite, each
//! next to a reference in the same run: the same comments written with
//! plain multi-row INSERTs into a bare table, the fastest the database
//! takes these rows at all.
//!
//! `cargo bench -p imagegram-projections --bench throughput`

use std::sync::Arc;
use std::time::{Duration, Instant};

use imagegram_eventlog::EventLog;
use imagegram_projections::{Projector, READ_MODEL};
use imagegram_readstore::{ReadModel, SqlStore};
use imagegram_schemas::Event;
use imagegram_testkit::workload::{append_all, workload, Workload};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let work = workload(1_000, 100_000, 7);
    println!("workload: {} events", work.events.len());
    println!("| database | projector events/s | plain INSERT rows/s | ratio |");
    println!("|---|---|---|---|");
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_path = dir.path().join("bench.db");
    let sqlite: Arc<dyn ReadModel> = Arc::new(SqlStore::sqlite(&sqlite_path).await.expect("sqlite"));
    let sqlite_url = format!("sqlite://{}?mode=rwc", dir.path().join("raw.db").display());
    report("SQLite", &work, sqlite, &sqlite_url).await;
    match imagegram_testkit::setting("IMAGEGRAM_TEST_MYSQL_URL") {
        Some(url) => {
            let store = imagegram_testkit::mysql_store().await.expect("mysql store");
            report("MariaDB", &work, store.model, &url).await;
        }
        None => println!("(MariaDB skipped: IMAGEGRAM_TEST_MYSQL_URL is not set)"),
    }
}

async fn report(name: &str, work: &Workload, store: Arc<dyn ReadModel>, raw_url: &str) {
    let projected = project(work, Arc::clone(&store)).await;
    let raw = raw_inserts(work, raw_url).await;
    println!("| {name} | {projected:.0} | {raw:.0} | {:.2} |", projected / raw);
}

/// Events per second for one projector to catch up with the whole log.
async fn project(work: &Workload, store: Arc<dyn ReadModel>) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let log: Arc<dyn EventLog> = imagegram_testkit::embedded_log(dir.path()).await;
    append_all(&*log, &work.events, 5_000).await;
    let total = work.events.len() as u64;
    let projector = Projector::new(Arc::clone(&log), Arc::clone(&store), READ_MODEL);
    let stop = CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { projector.run(stop).await }
    });
    imagegram_testkit::caught_up(&*store, READ_MODEL, total, Duration::from_secs(600)).await;
    let elapsed = started.elapsed();
    stop.cancel();
    let _ = running.await;
    total as f64 / elapsed.as_secs_f64()
}

/// Rows per second for the same comments as plain multi-row INSERTs.
async fn raw_inserts(work: &Workload, url: &str) -> f64 {
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(url).await.expect("connect");
    let table = format!("raw_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!(
        "CREATE TABLE {table} (id VARCHAR(36) PRIMARY KEY, post_id VARCHAR(36), creator VARCHAR(255), \
         content TEXT, created_at BIGINT)"
    ))
    .execute(&mut db)
    .await
    .expect("create table");
    let comments: Vec<_> = work
        .events
        .iter()
        .filter_map(|e| match e {
            Event::CommentAdded(c) => Some(c),
            _ => None,
        })
        .collect();
    let started = Instant::now();
    let mut tx = db.begin().await.expect("begin");
    for chunk in comments.chunks(400) {
        let rows = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!("INSERT INTO {table} VALUES {rows}");
        let mut query = sqlx::query(&sql);
        for c in chunk {
            query = query
                .bind(c.comment_id.to_string())
                .bind(c.meta.post_id.to_string())
                .bind(c.meta.actor.clone())
                .bind(c.content.clone())
                .bind(c.meta.occurred_at);
        }
        query.execute(&mut *tx).await.expect("insert");
    }
    tx.commit().await.expect("commit");
    let rate = comments.len() as f64 / started.elapsed().as_secs_f64();
    let _ = sqlx::query(&format!("DROP TABLE {table}")).execute(&mut db).await;
    rate
}
