//! The SQL adapter: MySQL/MariaDB or SQLite behind one `sqlx::Any` pool.
//! `store.rs` is the bottom, migrated by `migrate.rs`; each port's implementation sits with its
//! statements: the read model here (over `apply/`, `queries.rs` and
//! `rebuild.rs`), request records in `requests.rs`, upload sessions in
//! `uploads.rs`, the gateway directory in `gateways.rs`.

mod apply;
mod dialect;
mod gateways;
mod keys;
mod migrate;
mod queries;
mod rebuild;
mod request_batch;
mod requests;
pub(crate) mod store;
mod uploads;

use async_trait::async_trait;
use imagegram_eventlog::Position;
use imagegram_schemas::Event;
use uuid::Uuid;

pub use dialect::Durability;
pub use store::SqlStore;

use crate::{Advance, Applied, CommentState, Counts, FeedKey, PostView, ReadModel, StoreError};

#[async_trait]
impl ReadModel for SqlStore {
    fn backend(&self) -> &'static str {
        self.dialect.name()
    }

    async fn positions(&self, projection: &str) -> Result<Vec<Position>, StoreError> {
        apply::positions(self, projection).await
    }

    async fn apply(
        &self,
        projection: &str,
        events: &[Event],
        advances: &[Advance],
    ) -> Result<Applied, StoreError> {
        let applied = apply::apply(self, projection, events, advances).await?;
        self.applied.send_modify(|batches| *batches += 1);
        Ok(applied)
    }

    async fn post(&self, id: Uuid) -> Result<Option<PostView>, StoreError> {
        queries::post(self, id).await
    }

    async fn posts(&self, ids: &[Uuid]) -> Result<Vec<PostView>, StoreError> {
        queries::posts(self, ids).await
    }

    async fn comment(&self, post_id: Uuid, comment_id: Uuid) -> Result<Option<CommentState>, StoreError> {
        queries::comment(self, post_id, comment_id).await
    }

    async fn feed(&self, after: Option<FeedKey>, limit: u32) -> Result<Vec<PostView>, StoreError> {
        queries::feed(self, after, limit).await
    }

    async fn check(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn applied(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.applied.subscribe())
    }

    async fn shadow(&self, projection: &str) -> Result<std::sync::Arc<dyn ReadModel>, StoreError> {
        Ok(std::sync::Arc::new(self.make_shadow(projection).await?))
    }

    async fn swap_in(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.swap_shadow_in(from, to).await
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        self.table_counts().await
    }
}
