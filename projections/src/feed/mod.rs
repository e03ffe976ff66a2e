//! The feed as the gateway serves it: the ranking of every published post
//! in memory, ranking snapshots for stable paging, and a moka cache of post
//! views — all kept fresh from the log ([`start`]), not by a timer.
//!
//! The caches are bounded in bytes ([`FeedMemory`]), not entries. A
//! snapshot shares every node with the live ranking except the ones
//! changed since: it is weighed by the changes between it and the one
//! before (measured: 2.2 to 12 KB of copied nodes a change, depending on
//! how many changes share a path), capped at a whole copy. First pages
//! taken within [`SNAPSHOT_EVERY`] of each other share one snapshot.

mod follower;
mod ranking;

use crate::metrics::CacheCounters;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use imagegram_readstore::{FeedKey, PostStatus, PostView, ReadModel};
use moka::sync::Cache;
use uuid::Uuid;

pub use follower::start;
pub use ranking::{LiveRanking, Ranking};

use crate::ProjectionError;

/// How long a first page's ranking is kept for its next pages.
pub const SNAPSHOT_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// First pages taken this close together share a snapshot.
pub const SNAPSHOT_EVERY: Duration = Duration::from_millis(250);

/// Estimated bytes a snapshot holds of its own per change since the
/// snapshot before it, and per post when it is weighed as a whole copy.
const SNAPSHOT_BYTES_PER_CHANGE: u64 = 8 * 1024;
const SNAPSHOT_BYTES_PER_POST: u64 = 80;

/// How many bytes the feed's caches may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedMemory {
    /// Ranking snapshots kept for paging (oldest dropped first; a dropped
    /// snapshot's cursors answer 410).
    pub snapshots: u64,
    /// Post views (the missing ones are read from the store).
    pub posts: u64,
}

pub struct Feed {
    store: Arc<dyn ReadModel>,
    live: RwLock<Live>,
    /// Snapshots handed out, by version, with their weight in bytes; each
    /// shares all unchanged nodes with the live ranking and the others.
    snapshots: Cache<u64, (Arc<Ranking>, u32)>,
    /// The last snapshot handed out: its version, the changes made up to
    /// it, and when.
    last_snapshot: Mutex<Option<(u64, u64, Instant)>>,
    posts: Cache<Uuid, Arc<PostView>>,
    post_lookups: CacheCounters,
    snapshot_lookups: CacheCounters,
}

struct Live {
    ranking: LiveRanking,
    /// The ranking as of `version`, for readers.
    current: Arc<Ranking>,
    version: u64,
    /// Posts moved, added or removed so far.
    changes: u64,
}

/// Roughly the bytes a cached view takes.
fn view_bytes(view: &PostView) -> u32 {
    let text = view.creator.len()
        + view.caption.len()
        + view.failure_reason.as_ref().map_or(0, String::len)
        + view.image_key.as_ref().map_or(0, String::len);
    let comments: usize = view
        .last_comments
        .iter()
        .map(|c| 96 + c.creator.len() + c.content.len())
        .sum();
    u32::try_from(200 + text + comments).unwrap_or(u32::MAX)
}

impl Feed {
    /// Loads the ranking of every published post from the read store.
    pub async fn load(store: Arc<dyn ReadModel>, memory: FeedMemory) -> Result<Arc<Feed>, ProjectionError> {
        let mut ranking = LiveRanking::default();
        let mut after = None;
        let posts = Cache::builder()
            .max_capacity(memory.posts)
            .weigher(|_, view: &Arc<PostView>| view_bytes(view))
            .build();
        loop {
            let page = store.feed(after, 5_000).await?;
            for view in &page {
                ranking.upsert(view.feed_key());
                posts.insert(view.id, Arc::new(view.clone()));
            }
            match page.last() {
                Some(last) if page.len() == 5_000 => after = Some(last.feed_key()),
                _ => break,
            }
        }
        Ok(Arc::new(Feed {
            store,
            live: RwLock::new(Live {
                current: Arc::new(ranking.snapshot()),
                ranking,
                version: 1,
                changes: 0,
            }),
            snapshots: Cache::builder()
                .time_to_live(SNAPSHOT_LIFETIME)
                .max_capacity(memory.snapshots)
                .weigher(|_, (_, bytes): &(Arc<Ranking>, u32)| *bytes)
                // Every snapshot handed out is kept until memory runs
                // short, then the oldest go first (no admission filter).
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
            last_snapshot: Mutex::new(None),
            posts,
            post_lookups: CacheCounters::new("posts"),
            snapshot_lookups: CacheCounters::new("snapshots"),
        }))
    }

    /// The current ranking as a snapshot, and its id for the next pages:
    /// the last one handed out if it is younger than [`SNAPSHOT_EVERY`].
    pub fn snapshot_now(&self) -> (u64, Arc<Ranking>) {
        let mut last = self.last_snapshot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((version, _, at)) = *last {
            if at.elapsed() < SNAPSHOT_EVERY {
                if let Some((kept, _)) = self.snapshots.get(&version) {
                    return (version, kept);
                }
            }
        }
        let (version, changes_so_far, ranking) = {
            let live = self.live.read().unwrap_or_else(|p| p.into_inner());
            (live.version, live.changes, Arc::clone(&live.current))
        };
        let changes = last.map_or(u64::MAX, |(_, before, _)| changes_so_far.saturating_sub(before));
        let whole = ranking.len() as u64 * SNAPSHOT_BYTES_PER_POST + 4096;
        let bytes = changes.saturating_mul(SNAPSHOT_BYTES_PER_CHANGE).min(whole);
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        let (kept, _) = self.snapshots.get_with(version, || (ranking, bytes));
        *last = Some((version, changes_so_far, Instant::now()));
        (version, kept)
    }

    /// Bumped by every change to the ranking or to a post's view (each
    /// [`Feed::refresh`]): anything made from the feed at one version can
    /// be kept until the version moves. Read it before reading views, so
    /// that what is kept under it is at least that new.
    pub fn version(&self) -> u64 {
        self.live.read().unwrap_or_else(|p| p.into_inner()).version
    }

    /// The ranking as it stands, without keeping it as a snapshot.
    pub fn live(&self) -> Arc<Ranking> {
        Arc::clone(&self.live.read().unwrap_or_else(|p| p.into_inner()).current)
    }

    /// A snapshot handed out earlier, unless it expired.
    pub fn snapshot(&self, id: u64) -> Option<Arc<Ranking>> {
        let found = self.snapshots.get(&id).map(|(ranking, _)| ranking);
        let hit = u64::from(found.is_some());
        self.snapshot_lookups.count(hit, 1 - hit);
        found
    }

    /// The current views of `keys`' posts, in the same order (cached;
    /// the missing ones in one query).
    pub async fn views(&self, keys: &[FeedKey]) -> Result<Vec<Arc<PostView>>, ProjectionError> {
        let mut found: Vec<Option<Arc<PostView>>> = keys.iter().map(|k| self.posts.get(&k.id)).collect();
        let missing: Vec<Uuid> = keys
            .iter()
            .zip(&found)
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.id)
            .collect();
        self.post_lookups
            .count((keys.len() - missing.len()) as u64, missing.len() as u64);
        if !missing.is_empty() {
            let mut fetched = std::collections::HashMap::new();
            for view in self.store.posts(&missing).await? {
                let view = Arc::new(view);
                self.posts.insert(view.id, Arc::clone(&view));
                fetched.insert(view.id, view);
            }
            for (slot, key) in found.iter_mut().zip(keys) {
                if slot.is_none() {
                    *slot = fetched.get(&key.id).cloned();
                }
            }
        }
        Ok(found.into_iter().flatten().collect())
    }

    /// Re-reads `ids` from the read store and moves them in the ranking.
    pub async fn refresh(&self, ids: &[Uuid]) -> Result<(), ProjectionError> {
        let views = self.store.posts(ids).await?;
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        live.changes += views.len() as u64;
        for view in views {
            if view.status == PostStatus::Published {
                live.ranking.upsert(view.feed_key());
            } else {
                live.ranking.remove(view.id);
            }
            self.posts.insert(view.id, Arc::new(view));
        }
        live.current = Arc::new(live.ranking.snapshot());
        live.version += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagegram_readstore::SqlStore;
    use imagegram_schemas::{Event, EventMeta, ImageConverted, ImageFormat, UploadRequested};

    fn meta(post: Uuid, at: i64) -> EventMeta {
        EventMeta {
            event_id: Uuid::new_v4(),
            idempotency_key: Uuid::new_v4().to_string(),
            actor: "ann".into(),
            occurred_at: at,
            post_id: post,
            request_id: None,
        }
    }

    /// Snapshots are weighed by the changes between them, and past the
    /// budget the oldest go while the newest stay.
    #[tokio::test]
    async fn snapshots_are_bounded_in_bytes_oldest_first() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Arc::new(
            SqlStore::sqlite(&dir.path().join("read.db"))
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let post = Uuid::new_v4();
        let events = [
            Event::UploadRequested(UploadRequested {
                meta: meta(post, 1),
                caption: "c".into(),
                original_key: format!("originals/{post}"),
                format: ImageFormat::Png,
                byte_size: 1,
                original_filename: None,
            }),
            Event::ImageConverted(ImageConverted {
                meta: meta(post, 2),
                original_key: format!("originals/{post}"),
                image_key: format!("images/{post}.jpg"),
                width: 600,
                height: 600,
                byte_size: 1,
            }),
        ];
        store
            .apply("t", &events, &[])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let memory = FeedMemory {
            snapshots: 3 * SNAPSHOT_BYTES_PER_CHANGE,
            posts: 1 << 20,
        };
        let feed = Feed::load(store, memory).await.unwrap_or_else(|e| panic!("{e}"));
        let mut ids = Vec::new();
        for _ in 0..6 {
            feed.refresh(&[post]).await.unwrap_or_else(|e| panic!("{e}"));
            tokio::time::sleep(SNAPSHOT_EVERY + Duration::from_millis(10)).await;
            let (id, ranking) = feed.snapshot_now();
            assert_eq!(ranking.len(), 1);
            ids.push(id);
            feed.snapshots.run_pending_tasks();
        }
        assert!(feed.snapshots.weighted_size() <= memory.snapshots);
        assert!(feed.snapshot(ids[5]).is_some(), "the newest stays");
        assert!(feed.snapshot(ids[4]).is_some());
        assert!(feed.snapshot(ids[0]).is_none(), "the oldest went");
        // Taken again at once, a first page shares the last snapshot.
        assert_eq!(feed.snapshot_now().0, ids[5]);
    }
}
