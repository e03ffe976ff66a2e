//! Fills an embedded log with a reproducible workload of published posts
//! and comments, for benchmarks that need a large feed:
//! `cargo run --release -p imagegram-testkit --example fill_log -- <data-dir> <posts> <comments>`.
//! `imagegram rebuild --data-dir <data-dir>` then projects it.

use imagegram_testkit::workload::{append_all, workload};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(posts), Some(comments)) = (
        args.get(1),
        args.get(2).and_then(|n| n.parse().ok()),
        args.get(3).and_then(|n| n.parse().ok()),
    ) else {
        eprintln!("usage: fill_log <data-dir> <posts> <comments>");
        std::process::exit(2);
    };
    let work = workload(posts, comments, 1);
    let log = imagegram_testkit::embedded_log(std::path::Path::new(dir)).await;
    append_all(&*log, &work.events, 10_000).await;
    println!("{} events", work.events.len());
}
