//! Request records: processed-event marks (the processors' deduplication),
//! attempts at handling an event, and the bytes each user posted a day (a
//! quota). Old marks are pruned.

use async_trait::async_trait;
use uuid::Uuid;

use crate::StoreError;

/// What was asked and what was done, so that nothing is done twice.
#[async_trait]
pub trait RequestRecords: Send + Sync {
    /// Whether `consumer` already handled `event_id`.
    async fn is_processed(&self, consumer: &str, event_id: Uuid) -> Result<bool, StoreError>;

    /// Records that `consumer` handled `event_id`.
    async fn mark_processed(&self, consumer: &str, event_id: Uuid) -> Result<(), StoreError>;

    /// Counts an attempt at `consumer` handling `event_id` that has begun;
    /// how many have begun and not ended, this one included.
    async fn begin_attempt(&self, consumer: &str, event_id: Uuid) -> Result<u32, StoreError>;

    /// The attempt ended (well or badly, but not by crashing).
    async fn end_attempt(&self, consumer: &str, event_id: Uuid) -> Result<(), StoreError>;

    /// Forgets processed marks and attempt counts made before `before`; how many.
    async fn prune_processed(&self, before: i64) -> Result<u64, StoreError>;

    /// Adds `bytes` to what `actor` posted on `day` (days since the epoch, UTC).
    async fn add_daily_bytes(&self, actor: &str, day: i64, bytes: u64) -> Result<(), StoreError>;

    /// What `actor` posted on `day`, in bytes.
    async fn daily_bytes(&self, actor: &str, day: i64) -> Result<u64, StoreError>;
}
