//! Five stores connecting at once to a fresh MariaDB database, as roles
//! started together by an orchestrator do: all come up, ten times in a
//! row, and the schema is migrated once: one finished row per migration. (MariaDB answers NULL to
//! `GET_LOCK(name, -1)`, so sqlx's own migration lock does not hold there.)

use imagegram_readstore::SqlStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_stores_migrate_a_fresh_database_at_once() {
    if imagegram_testkit::service("IMAGEGRAM_TEST_MYSQL_URL", "MariaDB").is_none() {
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
        // Each migration applied once: one finished row per migration file
        // (a second run of one would have failed its start above).
        let mut connection = <sqlx::MySqlConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("connect");
        let rows = imagegram_testkit::migration_rows(&mut connection)
            .await
            .expect("the migrations table");
        let versions: Vec<i64> = rows.iter().map(|(version, _)| *version).collect();
        assert_eq!(
            versions,
            migration_versions(),
            "round {round}: one row per migration"
        );
        assert!(rows.iter().all(|(_, done)| *done), "round {round}: {rows:?}");
        // And once more after: nothing is left half-applied.
        assert!(
            SqlStore::connect(&url, 2).await.is_ok(),
            "round {round}: a later start"
        );
    }
}

/// The versions of the MySQL migrations this crate ships, from their
/// file names (`<version>_<name>.sql`).
fn migration_versions() -> Vec<i64> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/mysql");
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .expect("the migrations")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.split('_').next()?.parse().ok()
        })
        .collect();
    versions.sort_unstable();
    versions
}

/// What a process killed mid-migration leaves on MySQL: DDL commits by
/// itself, so part of the migration is applied and sqlx's row for it is
/// marked unfinished. Made here by undoing the tail of a migration and
/// marking it so; the next start finishes it, with no repair by hand.
#[tokio::test]
async fn a_migration_cut_short_is_finished_by_the_next_start() {
    if imagegram_testkit::service("IMAGEGRAM_TEST_MYSQL_URL", "MariaDB").is_none() {
        return;
    }
    use sqlx::Connection;
    // Cut in the middle of the last migration (its first index made), and
    // in the middle of the first (one table made, nothing after it).
    let cuts: [(&str, &[&str]); 2] = [
        (
            "5",
            &[
                "DROP TABLE handler_attempts",
                "DROP TABLE daily_bytes",
                "DROP INDEX uploads_owner ON uploads",
                "DROP INDEX processed_events_age ON processed_events",
                "DROP TABLE gateways",
                "DELETE FROM _sqlx_migrations WHERE version > 5",
            ],
        ),
        (
            "1",
            &[
                "DROP TABLE gateways, handler_attempts, daily_bytes, upload_parts, uploads",
                "DROP TABLE comments, projection_positions, rejected_events, idempotency_keys, processed_events",
                "DELETE FROM _sqlx_migrations WHERE version > 1",
            ],
        ),
    ];
    for (version, undo) in cuts {
        let url = imagegram_testkit::mysql_database()
            .await
            .expect("a fresh database");
        SqlStore::connect(&url, 2).await.expect("first start");
        let mut conn = sqlx::MySqlConnection::connect(&url).await.expect("connect");
        for statement in undo {
            sqlx::query(statement).execute(&mut conn).await.expect(statement);
        }
        sqlx::query(&format!(
            "UPDATE _sqlx_migrations SET success = FALSE WHERE version = {version}"
        ))
        .execute(&mut conn)
        .await
        .expect("mark unfinished");

        let store = SqlStore::connect(&url, 2).await;
        assert!(store.is_ok(), "cut in migration {version}: {store:?}");
        let unfinished: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = FALSE")
                .fetch_one(&mut conn)
                .await
                .expect("count");
        assert_eq!(unfinished, 0, "cut in migration {version}");
        for table in [
            "posts",
            "comments",
            "uploads",
            "upload_parts",
            "daily_bytes",
            "handler_attempts",
        ] {
            sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("cut in migration {version}: {table}: {e}"));
        }
        let indexes: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND index_name IN ('uploads_owner', 'processed_events_age')",
        )
        .fetch_one(&mut conn)
        .await
        .expect("indexes");
        assert_eq!(indexes, 2, "cut in migration {version}");
    }
}
