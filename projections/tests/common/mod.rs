//! What the projection tests share.

use std::sync::Arc;
use std::time::Duration;

use imagegram_projections::{Projector, READ_MODEL};
use imagegram_testkit::Stack;
use tokio_util::sync::CancellationToken;

/// Runs the live projector until it has read `total` records, then stops it.
pub async fn project(stack: &Stack, total: u64) {
    let projector = Projector::new(
        Arc::clone(&stack.log),
        Arc::clone(&stack.stores.model),
        READ_MODEL,
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { projector.run(stop).await }
    });
    imagegram_testkit::caught_up(&*stack.stores.model, READ_MODEL, total, Duration::from_secs(120)).await;
    stop.cancel();
    running
        .await
        .expect("projector task")
        .expect("projector stops cleanly");
}
