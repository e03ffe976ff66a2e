//! Resumable uploads' state: created, advanced by compare-and-set on the
//! offset (two PATCHes racing on one upload: one wins, the other sees a
//! conflict), marked with the post made from them, swept when expired.

use sqlx::Row;
use uuid::Uuid;

use async_trait::async_trait;

use super::store::{text, SqlStore};
use crate::{StoreError, Upload, UploadSessions};

const COLUMNS: &str =
    "id, owner, upload_length, upload_offset, parts, metadata, created_at, expires_at, post_id";

fn upload_of(row: &sqlx::any::AnyRow) -> Result<Upload, StoreError> {
    let parse =
        |v: String| Uuid::parse_str(&v).map_err(|e| StoreError::Corrupt(format!("upload id {v}: {e}")));
    Ok(Upload {
        id: parse(row.try_get("id")?)?,
        owner: row.try_get("owner")?,
        length: row.try_get::<Option<i64>, _>("upload_length")?.map(|v| v as u64),
        offset: row.try_get::<i64, _>("upload_offset")? as u64,
        parts: text(row, "parts")?.lines().map(str::to_owned).collect(),
        metadata: text(row, "metadata")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        post_id: row
            .try_get::<Option<String>, _>("post_id")?
            .map(parse)
            .transpose()?,
    })
}

#[async_trait]
impl UploadSessions for SqlStore {
    async fn create_upload(&self, upload: &Upload) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO uploads ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)"
        ))
        .bind(upload.id.to_string())
        .bind(&upload.owner)
        .bind(upload.length.map(|v| v as i64))
        .bind(upload.offset as i64)
        .bind(upload.parts.join("\n"))
        .bind(&upload.metadata)
        .bind(upload.created_at)
        .bind(upload.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn upload(&self, id: Uuid) -> Result<Option<Upload>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM uploads WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(upload_of).transpose()
    }

    /// Moves the offset from `from` to `upload.offset` (and stores the length
    /// and parts); `false` if the offset was no longer `from`.
    async fn advance_upload(&self, upload: &Upload, from: u64) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE uploads SET upload_offset = ?, upload_length = ?, parts = ?, expires_at = ? \
             WHERE id = ? AND upload_offset = ?",
        )
        .bind(upload.offset as i64)
        .bind(upload.length.map(|v| v as i64))
        .bind(upload.parts.join("\n"))
        .bind(upload.expires_at)
        .bind(upload.id.to_string())
        .bind(from as i64)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(moved == 1)
    }

    async fn set_upload_post(&self, id: Uuid, post: Uuid) -> Result<(), StoreError> {
        sqlx::query("UPDATE uploads SET post_id = ? WHERE id = ?")
            .bind(post.to_string())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_upload(&self, id: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn expired_uploads(&self, now: i64, limit: u32) -> Result<Vec<Upload>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM uploads WHERE expires_at < ? LIMIT ?"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(upload_of).collect()
    }
}
