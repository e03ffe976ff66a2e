//! Projection rebuild: every input topic replayed from the start into
//! shadow tables while the live ones keep serving, a count check, then the
//! shadow tables swapped in atomically with the rebuild's positions. The
//! live projector, if one runs, finds its positions moved (its next
//! compare-and-set fails) and carries on from the rebuild's; every effect
//! is idempotent by id, so anything it applies twice counts once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::EventLog;
use imagegram_readstore::{Counts, ReadModel};
use imagegram_schemas::topics::Consumer;
use tokio_util::sync::CancellationToken;

use crate::{ProjectionError, Projector, READ_MODEL};

/// The projection name the shadow tables are built under.
pub const REBUILD: &str = "rebuild";

/// What a rebuild did.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    /// Records replayed.
    pub records: u64,
    /// What the new tables hold.
    pub counts: Counts,
    /// What the live tables held at the same log positions, when the live
    /// projection stood exactly there at the end (else `None`).
    pub live_at_same_point: Option<Counts>,
}

/// Rebuilds the read tables; `progress(done, total)` is called as records are applied.
pub async fn rebuild(
    log: Arc<dyn EventLog>,
    store: Arc<dyn ReadModel>,
    progress: impl Fn(u64, u64),
) -> Result<Rebuilt, ProjectionError> {
    let shadow = store.shadow(REBUILD).await?;
    let mut ends = HashMap::new();
    for topic in Consumer::Projector.inputs() {
        for (p, end) in log.end_offsets(topic.name).await?.into_iter().enumerate() {
            ends.insert((topic.name.to_owned(), p as u32), end);
        }
    }
    let total: u64 = ends.values().sum();
    let projector = Projector::new(Arc::clone(&log), Arc::clone(&shadow), REBUILD);
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { projector.run(stop).await }
    });
    loop {
        let at = shadow.positions(REBUILD).await?;
        let done: u64 = at
            .iter()
            .map(|p| {
                p.offset
                    .min(ends.get(&(p.topic.clone(), p.partition)).copied().unwrap_or(0))
            })
            .sum();
        progress(done, total);
        if done >= total || running.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    match running.await {
        Ok(result) => result?,
        Err(e) => {
            return Err(ProjectionError::Check(format!(
                "the rebuild's projector failed: {e}"
            )))
        }
    }
    let counts = shadow.counts().await?;
    if counts.comment_count_sum != counts.live_comments {
        return Err(ProjectionError::Check(format!(
            "comment counts add up to {} but {} comments are live",
            counts.comment_count_sum, counts.live_comments
        )));
    }
    let same_point = same_positions(&*store, &*shadow).await?;
    let live_at_same_point = if same_point {
        Some(store.counts().await?)
    } else {
        None
    };
    if let Some(live) = live_at_same_point {
        if live != counts {
            return Err(ProjectionError::Check(format!(
                "live tables hold {live:?}, rebuilt ones {counts:?}"
            )));
        }
    }
    shadow.swap_in(REBUILD, READ_MODEL).await?;
    Ok(Rebuilt {
        records: total,
        counts,
        live_at_same_point,
    })
}

async fn same_positions(live: &dyn ReadModel, shadow: &dyn ReadModel) -> Result<bool, ProjectionError> {
    let mut a: Vec<_> = live
        .positions(READ_MODEL)
        .await?
        .into_iter()
        .map(|p| (p.topic, p.partition, p.offset))
        .collect();
    let mut b: Vec<_> = shadow
        .positions(REBUILD)
        .await?
        .into_iter()
        .map(|p| (p.topic, p.partition, p.offset))
        .collect();
    a.sort();
    b.sort();
    Ok(a == b)
}
