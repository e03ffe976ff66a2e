//! Idempotency keys (the gateway) and processed-event marks (the processors).

use std::time::Duration;

use sqlx::Row;
use uuid::Uuid;

use async_trait::async_trait;

use super::request_batch::ClaimOf;
use super::store::{now_us, SqlStore};
use crate::{Claim, RequestRecords, StoreError};

#[async_trait]
impl RequestRecords for SqlStore {
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
        let lease_us = i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 2);
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

    async fn complete_request(&self, actor: &str, key: &str, response: &str) -> Result<(), StoreError> {
        self.batcher().complete(actor, key, response).await
    }

    async fn release_request(&self, actor: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM idempotency_keys WHERE actor = ? AND idem_key = ? AND response IS NULL")
            .bind(actor)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn is_processed(&self, consumer: &str, event_id: Uuid) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS seen FROM processed_events WHERE consumer = ? AND event_id = ?")
            .bind(consumer)
            .bind(event_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn mark_processed(&self, consumer: &str, event_id: Uuid) -> Result<(), StoreError> {
        let sql = format!(
            "{} INTO processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?)",
            self.dialect.insert_ignore()
        );
        sqlx::query(&sql)
            .bind(consumer)
            .bind(event_id.to_string())
            .bind(now_us())
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

    async fn prune_processed(&self, before: i64) -> Result<u64, StoreError> {
        let pruned = sqlx::query("DELETE FROM processed_events WHERE processed_at < ?")
            .bind(before)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM handler_attempts WHERE updated_at < ?")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(pruned.rows_affected())
    }

    async fn begin_attempt(&self, consumer: &str, event_id: Uuid) -> Result<u32, StoreError> {
        let sql = format!(
            "INSERT INTO handler_attempts (consumer, event_id, unfinished, updated_at) VALUES (?, ?, 1, ?) {}",
            self.dialect.upsert(
                "consumer, event_id",
                "unfinished = unfinished + 1, updated_at = NEW(updated_at)"
            )
        );
        sqlx::query(&sql)
            .bind(consumer)
            .bind(event_id.to_string())
            .bind(now_us())
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT unfinished FROM handler_attempts WHERE consumer = ? AND event_id = ?")
            .bind(consumer)
            .bind(event_id.to_string())
            .fetch_one(&self.pool)
            .await?;
        let unfinished: i64 = row.try_get("unfinished")?;
        Ok(u32::try_from(unfinished).unwrap_or(u32::MAX))
    }

    async fn end_attempt(&self, consumer: &str, event_id: Uuid) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE handler_attempts SET unfinished = unfinished - 1, updated_at = ? \
             WHERE consumer = ? AND event_id = ? AND unfinished > 0",
        )
        .bind(now_us())
        .bind(consumer)
        .bind(event_id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn add_daily_bytes(&self, actor: &str, day: i64, bytes: u64) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO daily_bytes (actor, day, bytes) VALUES (?, ?, ?) {}",
            self.dialect.upsert("actor, day", "bytes = bytes + NEW(bytes)")
        );
        sqlx::query(&sql)
            .bind(actor)
            .bind(day)
            .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn daily_bytes(&self, actor: &str, day: i64) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT bytes FROM daily_bytes WHERE actor = ? AND day = ?")
            .bind(actor)
            .bind(day)
            .fetch_optional(&self.pool)
            .await?;
        let bytes: i64 = match row {
            Some(row) => row.try_get("bytes")?,
            None => 0,
        };
        Ok(u64::try_from(bytes).unwrap_or(0))
    }
}
