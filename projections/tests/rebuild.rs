//! `rebuild` gives the same tables as the live projection: every post
//! (status, count, last two comments, …) and every count, on the embedded
//! log with SQLite and on Kafka with MySQL; and the live projector carries
//! on from the swapped-in positions.

mod common;

use std::sync::Arc;

use imagegram_projections::rebuild::rebuild;
use imagegram_readstore::{PostView, ReadModel};
use imagegram_testkit::workload::{append_all, workload, Workload};
use imagegram_testkit::Stack;

async fn views(store: &dyn ReadModel, work: &Workload) -> Vec<PostView> {
    let mut views = store.posts(&work.posts).await.expect("posts");
    views.sort_by_key(|v| v.id);
    // The version counts changes, which differ between one big replay and
    // many small batches; everything readers see must match.
    views.iter_mut().for_each(|v| v.version = 0);
    views
}

async fn rebuild_equals_live(stack: Stack) {
    let work = workload(80, 3_000, 17);
    append_all(&*stack.log, &work.events, 400).await;
    let total = work.events.len() as u64;
    common::project(&stack, total).await;
    let live = views(&*stack.stores.model, &work).await;
    let live_counts = stack.stores.model.counts().await.expect("counts");
    assert_eq!(live.len(), 80);

    let report = rebuild(Arc::clone(&stack.log), Arc::clone(&stack.stores.model), |_, _| {})
        .await
        .expect("rebuild");
    assert_eq!(report.records, total);
    assert_eq!(
        report.live_at_same_point,
        Some(live_counts),
        "checked against the live tables"
    );
    assert_eq!(report.counts, live_counts);
    assert_eq!(
        views(&*stack.stores.model, &work).await,
        live,
        "the swapped-in tables equal the live ones"
    );
    work.check(&*stack.stores.model).await;

    // The live projector carries on from the rebuild's positions.
    let more = workload(10, 200, 99);
    append_all(&*stack.log, &more.events, 400).await;
    common::project(&stack, total + more.events.len() as u64).await;
    more.check(&*stack.stores.model).await;
    work.check(&*stack.stores.model).await;
}

imagegram_testkit::on_both_stacks!(rebuild_equals_live);
