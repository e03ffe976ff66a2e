//! `imagegram rebuild`: the read tables rebuilt from the whole log into
//! shadow tables and swapped in, with a progress bar and the final counts.
//! Done here, or, when a running `serve` holds the embedded log, by that
//! server (`POST /v1/admin/rebuild` with an operator token made from the
//! shared secret), whose progress lines drive the same bar.

use std::sync::Arc;

use futures::StreamExt;
use imagegram_eventlog::EventLog;
use imagegram_readstore::ReadModel;
use serde_json::Value;

use crate::server::{json_lines, Server};

fn progress_bar() -> anyhow::Result<indicatif::ProgressBar> {
    Ok(
        indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
            "rebuilding {pos}/{len} records {wide_bar} {per_sec} eta {eta}",
        )?),
    )
}

pub async fn rebuild(log: Arc<dyn EventLog>, store: Arc<dyn ReadModel>) -> anyhow::Result<()> {
    let bar = progress_bar()?;
    let report = imagegram_projections::rebuild::rebuild(log, store, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    let c = report.counts;
    let records = i64::try_from(report.records).unwrap_or(i64::MAX);
    print_report(
        [records, c.posts, c.published, c.live_comments, c.rejected],
        report.live_at_same_point.is_some(),
    );
    Ok(())
}

/// Asks the running server that holds the embedded log to rebuild.
pub async fn through_server(server: &Server) -> anyhow::Result<()> {
    let response = server
        .ask(reqwest::Method::POST, "/v1/admin/rebuild", &[])
        .await?;
    let bar = progress_bar()?;
    let mut lines = std::pin::pin!(json_lines::<Value>(response));
    while let Some(value) = lines.next().await {
        let value = value?;
        if let (Some(done), Some(total)) = (value["done"].as_u64(), value["total"].as_u64()) {
            bar.set_length(total);
            bar.set_position(done);
            continue;
        }
        bar.finish_and_clear();
        if let Some(error) = value["error"].as_str() {
            anyhow::bail!("the rebuild failed: {error}");
        }
        let counts = ["records", "posts", "published", "live_comments", "rejected"]
            .map(|name| value[name].as_i64().unwrap_or_default());
        print_report(counts, value["live_at_same_point"].as_bool().unwrap_or(false));
        return Ok(());
    }
    anyhow::bail!("the server stopped answering before the rebuild ended (it goes on there; see its log)")
}

/// `counts`: records, posts, published, live comments, refused events.
fn print_report(counts: [i64; 5], same: bool) {
    let [records, posts, published, live, refused] = counts;
    eprintln!(
        "rebuilt from {records} records: {posts} posts ({published} published), {live} live comments (counts add up), {refused} refused events"
    );
    if same {
        eprintln!("the live tables held the same at the same log positions");
    } else {
        eprintln!("the live projection had moved on; it carries on from the rebuilt positions");
    }
}
