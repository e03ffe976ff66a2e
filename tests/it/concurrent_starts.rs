//! Roles started together against a fresh MySQL database, as an
//! orchestrator starts them: five `imagegram` processes at once all come
//! up and do their work, ten rounds in a row, each on a new database.
//! (Each runs `dlq list`, which opens the read store, migrating it, and
//! exits; every process has its own embedded log.)

use std::process::{Command, Stdio};

use crate::support::BIN;

/// `imagegram dlq list` on `url`, with an embedded log in `dir`: a role
/// that opens (and so migrates) the read store and exits.
fn dlq_list(url: &str, dir: &std::path::Path) -> std::process::Child {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["--database-url", url, "--log-filter", "warn", "dlq", "list"])
        .env_remove("IMAGEGRAM_EVENT_LOG")
        .env_remove("IMAGEGRAM_BLOB_STORE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("imagegram starts")
}

#[test]
fn five_processes_started_at_once_on_a_fresh_database_all_come_up() {
    if imagegram_testkit::service("IMAGEGRAM_TEST_MYSQL_URL", "MariaDB").is_none() {
        return;
    }
    for round in 0..10 {
        let url = crate::support::mysql_database_blocking();
        let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().expect("temp dir")).collect();
        let children: Vec<_> = dirs.iter().map(|dir| dlq_list(&url, dir.path())).collect();
        for child in children {
            let out = child.wait_with_output().expect("exit");
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A role killed (SIGKILL) while it migrates a fresh database: the next
/// start comes up, finishing what the killed one left, with no repair by
/// hand. Each kill is aimed, not timed: it comes once the database shows
/// a migration begun and not finished (its row in `_sqlx_migrations` marked
/// unfinished), after a pause that differs by round; a round whose
/// migrations all finished first does not count, and one at least must
/// land (each that lands must be finished by the next start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_after_a_kill_mid_migration_comes_up() {
    use sqlx::Connection;
    if imagegram_testkit::service("IMAGEGRAM_TEST_MYSQL_URL", "MariaDB").is_none() {
        return;
    }
    const ROUNDS: u64 = 20;
    let (mut landed, mut finished) = (0, 0);
    for round in 0..ROUNDS {
        let url = imagegram_testkit::mysql_database()
            .await
            .expect("a fresh database");
        let mut watcher = sqlx::MySqlConnection::connect(&url).await.expect("connect");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut doomed = dlq_list(&url, dir.path());
        // Watch for a migration begun (or the start over before one was seen).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let began = loop {
            let exited = doomed.try_wait().ok().flatten().is_some();
            let rows = imagegram_testkit::migration_rows(&mut watcher)
                .await
                .unwrap_or_default();
            if rows.iter().any(|(_, done)| !done) {
                break true;
            }
            if exited {
                break false;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: the doomed start neither began a migration nor ended: {rows:?}"
            );
        };
        tokio::time::sleep(std::time::Duration::from_millis(round % 5)).await;
        let _ = doomed.kill(); // SIGKILL; it may have finished already
        let _ = doomed.wait();
        let rows = imagegram_testkit::migration_rows(&mut watcher)
            .await
            .unwrap_or_default();
        let cut = began && rows.iter().any(|(_, done)| !done);
        landed += usize::from(cut);
        let out = tokio::task::spawn_blocking({
            let (url, dir) = (url.clone(), dir.path().to_owned());
            move || dlq_list(&url, &dir).wait_with_output().expect("exit")
        })
        .await
        .expect("the next start");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "round {round}: {log}");
        if cut {
            assert!(
                log.contains("cut short"),
                "round {round}: the next start did not say it finished the cut migration: {log}"
            );
            finished += 1;
        }
        let rows = imagegram_testkit::migration_rows(&mut watcher)
            .await
            .unwrap_or_default();
        assert!(
            !rows.is_empty() && rows.iter().all(|(_, done)| *done),
            "round {round}: every migration finished once the next start came up: {rows:?}"
        );
    }
    eprintln!("{landed} of {ROUNDS} kills landed mid-migration; the next start finished {finished}");
    assert!(landed > 0, "none of {ROUNDS} kills landed mid-migration");
}
