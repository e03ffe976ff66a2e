//! A realistic workload (posts, skewed comments, deletes, forged deletes,
//! every event of one post in the batch) folded into the read tables gives
//! every post its exact count and last two — on the embedded log with
//! SQLite and on Kafka with MySQL.

use std::sync::Arc;
use std::time::Duration;

use imagegram_projections::{Projector, READ_MODEL};
use imagegram_testkit::workload::{append_all, workload};
use imagegram_testkit::Stack;
use tokio_util::sync::CancellationToken;

async fn counts_and_last_two_are_exact(stack: Stack) {
    let work = workload(120, 4_000, 11);
    // Every event twice, as after a producer retry: effects stay once.
    append_all(&*stack.log, &work.events, 500).await;
    append_all(&*stack.log, &work.events[..1_000], 500).await;
    let total: u64 = (work.events.len() + 1_000) as u64;
    let projector = Projector::new(Arc::clone(&stack.log), Arc::clone(&stack.store), READ_MODEL);
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { projector.run(stop).await }
    });
    imagegram_testkit::caught_up(&*stack.store, READ_MODEL, total, Duration::from_secs(120)).await;
    stop.cancel();
    running
        .await
        .expect("projector task")
        .expect("projector stops cleanly");
    work.check(&*stack.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded() {
    let dir = tempfile::tempdir().expect("temp dir");
    counts_and_last_two_are_exact(imagegram_testkit::embedded(dir.path()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed() {
    if let Some(stack) = imagegram_testkit::distributed().await {
        counts_and_last_two_are_exact(stack).await;
    }
}
