//! A realistic workload (posts, skewed comments, deletes, forged deletes,
//! every event of one post in the batch) folded into the read tables gives
//! every post its exact count and last two — on the embedded log with
//! SQLite and on Kafka with MySQL.

mod common;

use imagegram_testkit::workload::{append_all, workload};
use imagegram_testkit::Stack;

async fn counts_and_last_two_are_exact(stack: Stack) {
    let work = workload(120, 4_000, 11);
    // The first 1,000 events twice, as after producer retries: effects stay once.
    append_all(&*stack.log, &work.events, 500).await;
    append_all(&*stack.log, &work.events[..1_000], 500).await;
    let total: u64 = (work.events.len() + 1_000) as u64;
    common::project(&stack, total).await;
    work.check(&*stack.stores.model).await;
}

imagegram_testkit::on_both_stacks!(counts_and_last_two_are_exact);
