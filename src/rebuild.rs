//! `imagegram rebuild`: the read tables rebuilt from the whole log into
//! shadow tables and swapped in, with a progress bar and the final counts.

use std::sync::Arc;

use imagegram_eventlog::EventLog;
use imagegram_readstore::ReadStore;

pub async fn rebuild(log: Arc<dyn EventLog>, store: Arc<dyn ReadStore>) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
        "rebuilding {pos}/{len} records {wide_bar} {per_sec} eta {eta}",
    )?);
    let report = imagegram_projections::rebuild::rebuild(log, store, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    let c = report.counts;
    eprintln!(
        "rebuilt from {} records: {} posts ({} published), {} live comments (counts add up), {} refused events",
        report.records, c.posts, c.published, c.live_comments, c.rejected
    );
    match report.live_at_same_point {
        Some(_) => eprintln!("the live tables held the same at the same log positions"),
        None => eprintln!("the live projection had moved on; it carries on from the rebuilt positions"),
    }
    Ok(())
}
