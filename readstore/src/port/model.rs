//! The read model: what the projections write and the queries read.

use async_trait::async_trait;
use imagegram_eventlog::Position;
use imagegram_schemas::Event;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    Processing,
    Published,
    Failed,
}

impl PostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Processing => "processing",
            PostStatus::Published => "published",
            PostStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "processing" => Some(PostStatus::Processing),
            "published" => Some(PostStatus::Published),
            "failed" => Some(PostStatus::Failed),
            _ => None,
        }
    }
}

/// A live comment as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentView {
    pub id: Uuid,
    pub post_id: Uuid,
    pub creator: String,
    pub content: String,
    /// Microseconds since the epoch.
    pub created_at: i64,
}

/// A post as readers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostView {
    pub id: Uuid,
    pub creator: String,
    pub caption: String,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub status: PostStatus,
    pub failure_reason: Option<String>,
    pub image_key: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub comment_count: i64,
    /// At most two live comments, newest first.
    pub last_comments: Vec<CommentView>,
    /// Bumped on every change; an ETag for the post.
    pub version: i64,
}

impl PostView {
    /// Where this post sorts in the feed.
    pub fn feed_key(&self) -> FeedKey {
        FeedKey {
            comment_count: self.comment_count,
            created_at: self.created_at,
            id: self.id,
        }
    }
}

/// A place in the feed order: comment count descending, then newest, then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FeedKey {
    pub comment_count: i64,
    pub created_at: i64,
    pub id: Uuid,
}

/// What the write side needs to know about a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentState {
    pub creator: String,
    pub deleted: bool,
}

/// How far a batch moves a projection in one partition: from the offset it
/// started at (what the store must still hold) to the offset after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub topic: String,
    pub partition: u32,
    pub from: u64,
    pub to: u64,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub applied: usize,
    /// Events refused (and recorded), such as deletes by someone else.
    pub rejected: usize,
    /// Posts whose view changed.
    pub touched: Vec<Uuid>,
}

/// What the read tables hold, for checking a rebuild.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Posts whose upload was applied.
    pub posts: i64,
    pub published: i64,
    /// The sum of every post's comment count.
    pub comment_count_sum: i64,
    /// Comments not deleted: must equal `comment_count_sum`.
    pub live_comments: i64,
    /// Refused events recorded.
    pub rejected: i64,
}

/// The read tables: projections apply events to them, queries read them,
/// a rebuild fills fresh copies and swaps them in.
#[async_trait]
pub trait ReadModel: Send + Sync {
    /// `mysql` or `sqlite`.
    fn backend(&self) -> &'static str;

    /// Where `projection` has read to; empty when it never ran.
    async fn positions(&self, projection: &str) -> Result<Vec<Position>, StoreError>;

    /// Applies events in order and moves the positions, in one transaction.
    /// The move is a compare-and-set: if another projector moved a position
    /// first, nothing is applied and the answer is [`StoreError::Conflict`].
    async fn apply(
        &self,
        projection: &str,
        events: &[Event],
        advances: &[Advance],
    ) -> Result<Applied, StoreError>;

    async fn post(&self, id: Uuid) -> Result<Option<PostView>, StoreError>;

    /// The posts among `ids` that exist (in no particular order).
    async fn posts(&self, ids: &[Uuid]) -> Result<Vec<PostView>, StoreError>;

    async fn comment(&self, post_id: Uuid, comment_id: Uuid) -> Result<Option<CommentState>, StoreError>;

    /// Published posts in feed order, after `after` when given.
    async fn feed(&self, after: Option<FeedKey>, limit: u32) -> Result<Vec<PostView>, StoreError>;

    async fn check(&self) -> Result<(), StoreError>;

    /// Changes each time this process applies events to the read tables
    /// through this store, so a reader waiting for a write to show need not
    /// poll; `None` when the store cannot tell. Applies by other processes
    /// (a projector of its own) are not seen: waiters still look again
    /// every few milliseconds.
    fn applied(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// This store over fresh, empty shadow copies of the read tables, for a
    /// rebuild to fill while the live ones keep serving; `projection`'s
    /// positions (the rebuild's own) start again from nothing.
    async fn shadow(&self, projection: &str) -> Result<std::sync::Arc<dyn ReadModel>, StoreError>;

    /// On a shadow store: swaps its tables in for the live ones atomically
    /// and gives projection `from`'s positions to `to`.
    async fn swap_in(&self, from: &str, to: &str) -> Result<(), StoreError>;

    /// What this store's read tables hold.
    async fn counts(&self) -> Result<Counts, StoreError>;
}
