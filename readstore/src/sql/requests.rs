//! Idempotency keys (the gateway) and processed-event marks (the processors).

use sqlx::Row;
use uuid::Uuid;

use super::{now_us, text_or_null, SqlStore};
use crate::{Claim, StoreError};

pub(super) async fn claim(store: &SqlStore, actor: &str, key: &str, hash: &str) -> Result<Claim, StoreError> {
    // Twice at most: a claim released between our insert and our select is retried once.
    for _ in 0..2 {
        let sql = format!(
            "{} INTO idempotency_keys (actor, idem_key, request_hash, response, created_at) VALUES (?, ?, ?, NULL, ?)",
            store.dialect.insert_ignore()
        );
        let inserted = sqlx::query(&sql)
            .bind(actor)
            .bind(key)
            .bind(hash)
            .bind(now_us())
            .execute(&store.pool)
            .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Fresh);
        }
        let row = sqlx::query(
            "SELECT request_hash, response FROM idempotency_keys WHERE actor = ? AND idem_key = ?",
        )
        .bind(actor)
        .bind(key)
        .fetch_optional(&store.pool)
        .await?;
        if let Some(row) = row {
            let stored: String = row.try_get("request_hash")?;
            let response = text_or_null(&row, "response")?;
            return Ok(match (stored == hash, response) {
                (false, _) => Claim::Conflict,
                (true, Some(response)) => Claim::Replay(response),
                (true, None) => Claim::InFlight,
            });
        }
    }
    Ok(Claim::InFlight)
}

pub(super) async fn complete(
    store: &SqlStore,
    actor: &str,
    key: &str,
    response: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE idempotency_keys SET response = ? WHERE actor = ? AND idem_key = ?")
        .bind(response)
        .bind(actor)
        .bind(key)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn release(store: &SqlStore, actor: &str, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE actor = ? AND idem_key = ? AND response IS NULL")
        .bind(actor)
        .bind(key)
        .execute(&store.pool)
        .await?;
    Ok(())
}

pub(super) async fn is_processed(
    store: &SqlStore,
    consumer: &str,
    event_id: Uuid,
) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 AS seen FROM processed_events WHERE consumer = ? AND event_id = ?")
        .bind(consumer)
        .bind(event_id.to_string())
        .fetch_optional(&store.pool)
        .await?;
    Ok(row.is_some())
}

pub(super) async fn mark_processed(
    store: &SqlStore,
    consumer: &str,
    event_id: Uuid,
) -> Result<(), StoreError> {
    let sql = format!(
        "{} INTO processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?)",
        store.dialect.insert_ignore()
    );
    sqlx::query(&sql)
        .bind(consumer)
        .bind(event_id.to_string())
        .bind(now_us())
        .execute(&store.pool)
        .await?;
    Ok(())
}
