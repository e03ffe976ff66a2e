//! Roles started together against a fresh MySQL database, as an
//! orchestrator starts them: five `imagegram` processes at once all come
//! up and do their work, ten rounds in a row, each on a new database.
//! (Each runs `dlq list`, which opens the read store, migrating it, and
//! exits; every process has its own embedded log.)

use std::process::{Command, Stdio};

use crate::support::BIN;

#[test]
fn five_processes_started_at_once_on_a_fresh_database_all_come_up() {
    if std::env::var("IMAGEGRAM_TEST_MYSQL_URL").map_or(true, |u| u.is_empty()) {
        eprintln!("skipped: IMAGEGRAM_TEST_MYSQL_URL is not set");
        return;
    }
    for round in 0..10 {
        let url = crate::support::mysql_database_blocking();
        let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().expect("temp dir")).collect();
        let children: Vec<_> = dirs
            .iter()
            .map(|dir| {
                Command::new(BIN)
                    .arg("--data-dir")
                    .arg(dir.path())
                    .args(["--database-url", &url, "--log-filter", "warn", "dlq", "list"])
                    .env_remove("IMAGEGRAM_EVENT_LOG")
                    .env_remove("IMAGEGRAM_BLOB_STORE")
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("imagegram starts")
            })
            .collect();
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
