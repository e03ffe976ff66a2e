//! `imagegram rebuild`: the read tables rebuilt from the whole log into
//! shadow tables and swapped in, with a progress bar and the final counts.
//! Done here, or, when a running `serve` holds the embedded log, by that
//! server (`POST /v1/admin/rebuild` with an operator token made from the
//! shared secret), whose progress lines drive the same bar.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use imagegram_eventlog::EventLog;
use imagegram_readstore::ReadModel;
use serde_json::Value;

/// Where `serve` records the address it listens on.
pub fn address_file(data_dir: &Path) -> PathBuf {
    data_dir.join("gateway.addr")
}

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
pub async fn through_server(
    data_dir: &Path,
    server: Option<&str>,
    jwt_secret: Option<&str>,
) -> anyhow::Result<()> {
    let base = match server {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let file = address_file(data_dir);
            let address = std::fs::read_to_string(&file).map_err(|e| {
                anyhow::anyhow!(
                    "the embedded log is in use, but {} names no server ({e}); pass --server",
                    file.display()
                )
            })?;
            format!("http://{}", address.trim())
        }
    };
    eprintln!("the embedded log is open in a running server; asking {base} to rebuild");
    let secret = imagegram_ingest::load_or_create_secret(jwt_secret, data_dir)?;
    let token = imagegram_ingest::Auth::from_secret(&secret).issue_operator(Duration::from_secs(300))?;
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/admin/rebuild"))
        .bearer_auth(token)
        .send()
        .await?;
    if !response.status().is_success() {
        let status = response.status();
        anyhow::bail!(
            "the server answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    let bar = progress_bar()?;
    let mut lines = response.bytes_stream();
    let mut pending = Vec::new();
    while let Some(chunk) = lines.next().await {
        pending.extend_from_slice(&chunk?);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let value: Value = serde_json::from_slice(&line)?;
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
