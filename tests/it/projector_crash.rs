//! kill -9 during projection, again and again, then a restart: every
//! count and every post's last two comments are exact. The projector runs
//! as its own process (`imagegram project`) over a log filled beforehand,
//! on the embedded log with SQLite and on Kafka with MySQL.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use imagegram_readstore::{ReadModel, SqlStore};

use crate::support::{environment, fill_log, value, Infra, BIN};
use imagegram_testkit::workload::{workload, Rng};

fn projector(data: &std::path::Path, env: &[(String, String)]) -> Child {
    let mut command = Command::new(BIN);
    command.arg("--data-dir").arg(data).arg("project");
    for key in ["IMAGEGRAM_EVENT_LOG", "IMAGEGRAM_DATABASE_URL"] {
        command.env_remove(key);
    }
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("IMAGEGRAM_LOG_FILTER", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("imagegram project starts")
}

/// Records the projector has committed, over every partition.
async fn records_done(store: &dyn ReadModel) -> u64 {
    store
        .positions(imagegram_projections::READ_MODEL)
        .await
        .expect("positions")
        .iter()
        .map(|p| p.offset)
        .sum()
}

async fn counts_are_exact_after_kill_9(infra: Infra) {
    let Some(env) = environment(infra, "counts_are_exact_after_kill_9") else {
        return;
    };
    let data = tempfile::tempdir().expect("temp dir");
    let work = workload(200, 20_000, 23);
    let total = work.events.len() as u64;
    let store: Arc<dyn ReadModel> = match value(&env, "IMAGEGRAM_DATABASE_URL") {
        Some(url) => Arc::new(SqlStore::connect(url, 2).await.expect("mysql")),
        None => Arc::new(
            SqlStore::sqlite(&data.path().join("read.db"))
                .await
                .expect("sqlite"),
        ),
    };
    fill_log(data.path(), &env, &work.events).await;

    // Each kill is aimed: once the projector is seen to have committed
    // records past where the last one stopped, after a pause that differs
    // by round. A kill that leaves records unread landed mid-projection;
    // one at least must.
    let mut rng = Rng::new(5);
    let mut before = records_done(&*store).await;
    let mut landed = 0;
    for _ in 0..8 {
        let mut child = projector(data.path(), &env);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while records_done(&*store).await <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "the projector committed nothing past {before} of {total} records"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.next_u64() % 40)).await;
        child.kill().expect("kill -9");
        child.wait().expect("reaped");
        let done = records_done(&*store).await;
        eprintln!("killed after {done} of {total} records");
        before = done;
        if done >= total {
            break;
        }
        landed += 1;
    }
    assert!(landed > 0, "no kill landed while records were left to project");
    let mut child = projector(data.path(), &env);
    imagegram_testkit::caught_up(
        &*store,
        imagegram_projections::READ_MODEL,
        total,
        Duration::from_secs(180),
    )
    .await;
    child.kill().expect("stop");
    child.wait().expect("reaped");
    work.check(&*store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    counts_are_exact_after_kill_9(Infra::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed() {
    counts_are_exact_after_kill_9(Infra::Distributed).await;
}
