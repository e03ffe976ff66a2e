//! The gateway directory on SQL: a row per running gateway instance,
//! upserted on each renewal.

use std::time::Duration;

use async_trait::async_trait;

use super::store::{now_us, text, SqlStore};
use crate::{GatewayDirectory, StoreError};

/// Entries unseen this long are dropped at the next announcement (their
/// gateway died without withdrawing).
const FORGET_AFTER_US: i64 = 24 * 3600 * 1_000_000;

#[async_trait]
impl GatewayDirectory for SqlStore {
    async fn announce(&self, instance: u64, address: &str) -> Result<(), StoreError> {
        let now = now_us();
        let upsert = self
            .dialect
            .upsert("instance", "address = NEW(address), seen_at = NEW(seen_at)");
        sqlx::query(&format!(
            "INSERT INTO gateways (instance, address, seen_at) VALUES (?, ?, ?) {upsert}"
        ))
        .bind(instance as i64)
        .bind(address)
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM gateways WHERE seen_at < ?")
            .bind(now - FORGET_AFTER_US)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn address_of(&self, instance: u64, fresh_for: Duration) -> Result<Option<String>, StoreError> {
        let since = now_us() - i64::try_from(fresh_for.as_micros()).unwrap_or(i64::MAX);
        let row = sqlx::query("SELECT address FROM gateways WHERE instance = ? AND seen_at >= ?")
            .bind(instance as i64)
            .bind(since)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| text(&row, "address")).transpose()
    }

    async fn withdraw(&self, instance: u64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM gateways WHERE instance = ?")
            .bind(instance as i64)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
