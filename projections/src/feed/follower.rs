//! Keeps a [`Feed`] fresh from the log: every event that can change a
//! post's place or view (published, failed, comment added or deleted)
//! marks the post; once the projection's stored positions show the event
//! applied, the marked posts are re-read in one query and moved. So every
//! gateway instance follows the same events, whichever projector applied
//! them, and never reads the table before the change is in it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::{lag, EventLog};
use imagegram_readstore::ReadModel;
use imagegram_schemas::{decode, topics, Event};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Feed, FeedMemory};
use crate::{ProjectionError, READ_MODEL};

/// Longest wait for the projection to apply what was read; after it the
/// posts are re-read anyway (and again with the next events).
const PATIENCE: Duration = Duration::from_secs(5);

/// Loads the feed and keeps it fresh. The log's ends are taken before the
/// load, so a change applied during the load is followed all the same.
pub async fn start(
    store: Arc<dyn ReadModel>,
    log: Arc<dyn EventLog>,
    memory: FeedMemory,
    stop: CancellationToken,
) -> Result<Arc<Feed>, ProjectionError> {
    let topics = [topics::IMAGES.name, topics::COMMENTS.name];
    let mut reader = lag::follow_from_ends(&log, "gateway.feed", &topics, stop.clone()).await?;
    let feed = Feed::load(store, memory).await?;
    let following = Arc::clone(&feed);
    tokio::spawn(async move {
        let feed = following;
        while !stop.is_cancelled() {
            let batch = tokio::select! {
                _ = stop.cancelled() => break,
                batch = reader.poll(5_000, Duration::from_millis(500)) => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "following the log for the feed failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let mut posts = Vec::new();
            let mut needed: HashMap<(String, u32), u64> = HashMap::new();
            for record in &batch {
                let post = match decode(&record.value) {
                    Ok(Event::ImageConverted(e)) => e.meta.post_id,
                    Ok(Event::ConversionFailed(e)) => e.meta.post_id,
                    Ok(Event::CommentAdded(e)) => e.meta.post_id,
                    Ok(Event::CommentDeleted(e)) => e.meta.post_id,
                    _ => continue,
                };
                posts.push(post);
                needed.insert((record.topic.to_string(), record.partition), record.offset + 1);
            }
            if posts.is_empty() {
                continue;
            }
            posts.sort();
            posts.dedup();
            wait_until_applied(&*feed.store, &needed, &stop).await;
            if let Err(e) = refresh_until_done(&feed, &posts, &stop).await {
                tracing::warn!(error = %e, "refreshing the feed failed");
            }
        }
    });
    Ok(feed)
}

async fn wait_until_applied(
    store: &dyn ReadModel,
    needed: &HashMap<(String, u32), u64>,
    stop: &CancellationToken,
) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline && !stop.is_cancelled() {
        if let Ok(stored) = store.positions(READ_MODEL).await {
            let at: HashMap<(&str, u32), u64> = stored
                .iter()
                .map(|p| ((p.topic.as_str(), p.partition), p.offset))
                .collect();
            let applied = needed.iter().all(|((topic, part), &offset)| {
                at.get(&(topic.as_str(), *part)).is_some_and(|&o| o >= offset)
            });
            if applied {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn refresh_until_done(
    feed: &Feed,
    posts: &[Uuid],
    stop: &CancellationToken,
) -> Result<(), ProjectionError> {
    let mut backoff = Duration::from_millis(50);
    loop {
        match feed.refresh(posts).await {
            Ok(()) => return Ok(()),
            Err(e) if stop.is_cancelled() => return Err(e),
            Err(e) => tracing::warn!(error = %e, "re-reading posts for the feed failed; retrying"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
