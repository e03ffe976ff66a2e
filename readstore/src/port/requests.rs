//! Request records: idempotency keys (the gateway's keyed requests),
//! processed-event marks (the processors' deduplication), and the bytes
//! each user posted a day (a quota). Old keys and marks are pruned.

use async_trait::async_trait;
use uuid::Uuid;

use crate::StoreError;

/// The answer to claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: go ahead, then `complete_request`.
    Fresh,
    /// Seen with the same request: here is the stored answer.
    Replay(String),
    /// Seen with the same request, still being handled (its lease runs).
    InFlight,
    /// Seen with a different request.
    Conflict,
}

/// What was asked and what was done, so that nothing is done twice.
#[async_trait]
pub trait RequestRecords: Send + Sync {
    /// Claims `(actor, key)` for a request whose body hashes to `hash`,
    /// held for `lease`. A claim whose lease ran out without an answer (its
    /// holder died or vanished) is taken over by the next claim: `Fresh`.
    async fn claim_request(
        &self,
        actor: &str,
        key: &str,
        hash: &str,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError>;

    /// Holds an unanswered claim for `lease` more from now.
    async fn renew_request(
        &self,
        actor: &str,
        key: &str,
        lease: std::time::Duration,
    ) -> Result<(), StoreError>;

    /// Stores the answer to a claimed request.
    async fn complete_request(&self, actor: &str, key: &str, response: &str) -> Result<(), StoreError>;

    /// Forgets a claim whose request failed, so a retry can run.
    async fn release_request(&self, actor: &str, key: &str) -> Result<(), StoreError>;

    /// Whether `consumer` already handled `event_id`.
    async fn is_processed(&self, consumer: &str, event_id: Uuid) -> Result<bool, StoreError>;

    /// Records that `consumer` handled `event_id`.
    async fn mark_processed(&self, consumer: &str, event_id: Uuid) -> Result<(), StoreError>;

    /// Counts an attempt at `consumer` handling `event_id` that has begun;
    /// how many have begun and not ended, this one included.
    async fn begin_attempt(&self, consumer: &str, event_id: Uuid) -> Result<u32, StoreError>;

    /// The attempt ended (well or badly, but not by crashing).
    async fn end_attempt(&self, consumer: &str, event_id: Uuid) -> Result<(), StoreError>;

    /// Forgets idempotency keys made before `before` (µs since the epoch)
    /// whose claim is not held; how many.
    async fn prune_requests(&self, before: i64) -> Result<u64, StoreError>;

    /// Forgets processed marks and attempt counts made before `before`; how many.
    async fn prune_processed(&self, before: i64) -> Result<u64, StoreError>;

    /// Adds `bytes` to what `actor` posted on `day` (days since the epoch, UTC).
    async fn add_daily_bytes(&self, actor: &str, day: i64, bytes: u64) -> Result<(), StoreError>;

    /// What `actor` posted on `day`, in bytes.
    async fn daily_bytes(&self, actor: &str, day: i64) -> Result<u64, StoreError>;
}
