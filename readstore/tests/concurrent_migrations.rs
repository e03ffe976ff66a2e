//! Five stores connecting at once to a fresh MariaDB database, as roles
//! started together by an orchestrator do: all come up, ten times in a
//! row, and the schema is migrated once. (MariaDB answers NULL to
//! `GET_LOCK(name, -1)`, so sqlx's own migration lock does not hold there.)

use imagegram_readstore::SqlStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_stores_migrate_a_fresh_database_at_once() {
    if imagegram_testkit::setting("IMAGEGRAM_TEST_MYSQL_URL").is_none() {
        eprintln!("skipped: IMAGEGRAM_TEST_MYSQL_URL is not set");
        return;
    }
    for round in 0..10 {
        let url = imagegram_testkit::mysql_database()
            .await
            .expect("a fresh database");
        let starts: Vec<_> = (0..5)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { SqlStore::connect(&url, 2).await.map(drop) })
            })
            .collect();
        for start in starts {
            let started = start.await.expect("task");
            assert!(started.is_ok(), "round {round}: {started:?}");
        }
        // And once more after: nothing is left half-applied.
        assert!(
            SqlStore::connect(&url, 2).await.is_ok(),
            "round {round}: a later start"
        );
    }
}
