//! Idempotency keys in the `idempotency_keys` table: claims and answers
//! go through the batch writer (`request_batch.rs`), renewals and releases
//! straight to the pool.

use std::time::Duration;

use async_trait::async_trait;

use super::request_batch::ClaimOf;
use super::store::{now_us, SqlStore};
use crate::{Answer, Claim, IdempotencyKeys, StoreError};

#[async_trait]
impl IdempotencyKeys for SqlStore {
    async fn claim_request(
        &self,
        actor: &str,
        key: &str,
        hash: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let claim = ClaimOf {
            actor: actor.to_owned(),
            key: key.to_owned(),
            hash: hash.to_owned(),
            lease,
        };
        self.batcher().claim(claim).await
    }

    async fn renew_request(&self, actor: &str, key: &str, lease: Duration) -> Result<(), StoreError> {
        let lease_us = crate::port::lease_micros(lease);
        sqlx::query(
            "UPDATE idempotency_keys SET lease_until = ? WHERE actor = ? AND idem_key = ? AND response IS NULL",
        )
        .bind(now_us() + lease_us)
        .bind(actor)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn complete_requests(&self, answers: &[Answer]) -> Result<(), StoreError> {
        self.batcher().complete(answers).await
    }

    async fn release_request(&self, actor: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE actor = ? AND idem_key = ? AND response IS NULL")
            .bind(actor)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn prune_requests(&self, before: i64) -> Result<u64, StoreError> {
        // A claim still held (its lease running, no answer yet) stays.
        let pruned = sqlx::query(
            "DELETE FROM idempotency_keys WHERE created_at < ? AND (response IS NOT NULL OR lease_until < ?)",
        )
        .bind(before)
        .bind(now_us())
        .execute(&self.pool)
        .await?;
        Ok(pruned.rows_affected())
    }
}
