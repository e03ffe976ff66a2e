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

/// A role killed (SIGKILL) while it migrates a fresh database, at a
/// different moment each round: the next start comes up, finishing what
/// the killed one left, with no repair by hand.
#[test]
fn a_start_after_a_kill_mid_migration_comes_up() {
    if imagegram_testkit::service("IMAGEGRAM_TEST_MYSQL_URL", "MariaDB").is_none() {
        return;
    }
    let mut finished = 0;
    for round in 0..20u64 {
        let url = crate::support::mysql_database_blocking();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut doomed = dlq_list(&url, dir.path());
        std::thread::sleep(std::time::Duration::from_millis(12 * round));
        let _ = doomed.kill(); // SIGKILL; it may have finished already
        let _ = doomed.wait();
        let out = dlq_list(&url, dir.path()).wait_with_output().expect("exit");
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "round {round}: {log}");
        finished += usize::from(log.contains("cut short"));
    }
    eprintln!("{finished} of 20 kills landed mid-migration and were finished by the next start");
}
