//! The feed as the gateway serves it: the ranking of every published post
//! in memory, ranking snapshots for stable paging, and a moka cache of post
//! views — all kept fresh from the log ([`start`]), not by a timer.

mod follower;
mod ranking;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use imagegram_readstore::{FeedKey, PostStatus, PostView, ReadModel};
use moka::sync::Cache;
use uuid::Uuid;

pub use follower::start;
pub use ranking::Ranking;

use crate::ProjectionError;

/// How long a first page's ranking is kept for its next pages.
pub const SNAPSHOT_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub struct Feed {
    store: Arc<dyn ReadModel>,
    live: RwLock<Live>,
    /// Snapshots handed out, by version; each shares all unchanged nodes
    /// with the live ranking and with the others.
    snapshots: Cache<u64, Arc<Ranking>>,
    posts: Cache<Uuid, Arc<PostView>>,
}

struct Live {
    ranking: Arc<Ranking>,
    version: u64,
}

impl Feed {
    /// Loads the ranking of every published post from the read store.
    pub async fn load(store: Arc<dyn ReadModel>) -> Result<Arc<Feed>, ProjectionError> {
        let mut ranking = Ranking::default();
        let mut after = None;
        let posts = Cache::builder().max_capacity(200_000).build();
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
                ranking: Arc::new(ranking),
                version: 1,
            }),
            snapshots: Cache::builder()
                .time_to_live(SNAPSHOT_LIFETIME)
                .max_capacity(100_000)
                .build(),
            posts,
        }))
    }

    /// The current ranking as a snapshot, and its id for the next pages.
    pub fn snapshot_now(&self) -> (u64, Arc<Ranking>) {
        let (version, ranking) = {
            let live = self.live.read().unwrap_or_else(|p| p.into_inner());
            (live.version, Arc::clone(&live.ranking))
        };
        let kept = self.snapshots.get_with(version, || ranking);
        (version, kept)
    }

    /// The ranking as it stands, without keeping it as a snapshot.
    pub fn live(&self) -> Arc<Ranking> {
        Arc::clone(&self.live.read().unwrap_or_else(|p| p.into_inner()).ranking)
    }

    /// A snapshot handed out earlier, unless it expired.
    pub fn snapshot(&self, id: u64) -> Option<Arc<Ranking>> {
        self.snapshots.get(&id)
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
        let mut ranking = {
            let live = self.live.read().unwrap_or_else(|p| p.into_inner());
            Ranking::clone(&live.ranking)
        };
        for view in views {
            if view.status == PostStatus::Published {
                ranking.upsert(view.feed_key());
            } else {
                ranking.remove(view.id);
            }
            self.posts.insert(view.id, Arc::new(view));
        }
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        live.ranking = Arc::new(ranking);
        live.version += 1;
        Ok(())
    }
}
