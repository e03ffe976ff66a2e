//! Processed-event marks and attempts (the processors) and daily bytes (a quota).

use sqlx::Row;
use uuid::Uuid;

use async_trait::async_trait;

use super::store::{now_us, SqlStore};
use crate::{RequestRecords, StoreError};

#[async_trait]
impl RequestRecords for SqlStore {
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
