//! Resumable uploads' state: created, advanced by compare-and-set on the
//! offset (two PATCHes racing on one upload: one wins, the other sees a
//! conflict), marked with the post made from them, swept when expired.
//! Each chunk object is a row of `upload_parts`, so a PATCH adds one row
//! and reads none, whatever the upload's length; parts stored by older
//! versions in the `uploads.parts` column come first.

use sqlx::{Any, Row};
use uuid::Uuid;

use async_trait::async_trait;

use super::store::{text, SqlStore};
use crate::{StoreError, Upload, UploadSessions};

const COLUMNS: &str =
    "id, owner, upload_length, upload_offset, parts, metadata, created_at, expires_at, post_id";

/// The name of an upload's first part, read with its row (a lookup on
/// `upload_parts`' key), for [`upload_of`].
const FIRST_PART: &str =
    "(SELECT name FROM upload_parts WHERE upload_id = uploads.id AND seq = 0) AS first_part";

fn upload_of(row: &sqlx::any::AnyRow) -> Result<Upload, StoreError> {
    let parse =
        |v: String| Uuid::parse_str(&v).map_err(|e| StoreError::Corrupt(format!("upload id {v}: {e}")));
    Ok(Upload {
        id: parse(row.try_get("id")?)?,
        owner: row.try_get("owner")?,
        length: row.try_get::<Option<i64>, _>("upload_length")?.map(|v| v as u64),
        offset: row.try_get::<i64, _>("upload_offset")? as u64,
        metadata: text(row, "metadata")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        post_id: row
            .try_get::<Option<String>, _>("post_id")?
            .map(parse)
            .transpose()?,
        first_part: row.try_get("first_part")?,
    })
}

/// How many parts upload `id` has stored: its legacy ones, or one past
/// the last row, whichever is more (a lookup on the key, not a scan).
async fn stored_parts(tx: &mut sqlx::Transaction<'static, Any>, id: Uuid) -> Result<usize, StoreError> {
    let legacy = sqlx::query("SELECT parts FROM uploads WHERE id = ?")
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await?;
    let legacy = text(&legacy, "parts")?.lines().count();
    let last: Option<i64> = sqlx::query("SELECT MAX(seq) AS last FROM upload_parts WHERE upload_id = ?")
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await?
        .try_get("last")?;
    Ok(legacy.max(last.map_or(0, |seq| seq as usize + 1)))
}

#[async_trait]
impl UploadSessions for SqlStore {
    async fn create_upload(&self, upload: &Upload) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO uploads ({COLUMNS}) VALUES (?, ?, ?, ?, '', ?, ?, ?, NULL)"
        ))
        .bind(upload.id.to_string())
        .bind(&upload.owner)
        .bind(upload.length.map(|v| v as i64))
        .bind(upload.offset as i64)
        .bind(&upload.metadata)
        .bind(upload.created_at)
        .bind(upload.expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upload(&self, id: Uuid) -> Result<Option<Upload>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, {FIRST_PART} FROM uploads WHERE id = ?"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(upload_of).transpose()
    }

    /// Parts kept by older versions in the `parts` column, then the rows.
    async fn upload_parts(&self, id: Uuid) -> Result<Vec<String>, StoreError> {
        let legacy = sqlx::query("SELECT parts FROM uploads WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let mut parts: Vec<String> = match &legacy {
            Some(row) => text(row, "parts")?.lines().map(str::to_owned).collect(),
            None => return Ok(Vec::new()),
        };
        let rows = sqlx::query("SELECT name FROM upload_parts WHERE upload_id = ? ORDER BY seq")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        for row in &rows {
            parts.push(text(row, "name")?);
        }
        Ok(parts)
    }

    /// Moves the offset from `from` to `upload.offset`, stores the length
    /// and expiry, and appends `part`; `false` if the offset was no longer
    /// `from`.
    async fn advance_upload(
        &self,
        upload: &Upload,
        from: u64,
        part: Option<&str>,
    ) -> Result<bool, StoreError> {
        let advance = sqlx::query(
            "UPDATE uploads SET upload_offset = ?, upload_length = ?, expires_at = ? \
             WHERE id = ? AND upload_offset = ?",
        )
        .bind(upload.offset as i64)
        .bind(upload.length.map(|v| v as i64))
        .bind(upload.expires_at)
        .bind(upload.id.to_string())
        .bind(from as i64);
        // Most PATCHes add no part (an upload written in place has one):
        // the update alone commits, one trip to the database, not three.
        let Some(part) = part else {
            return Ok(advance.execute(&self.pool).await?.rows_affected() == 1);
        };
        let mut tx = self.pool.begin().await?;
        if advance.execute(&mut *tx).await?.rows_affected() != 1 {
            return Ok(false);
        }
        let seq = stored_parts(&mut tx, upload.id).await?;
        sqlx::query("INSERT INTO upload_parts (upload_id, seq, name) VALUES (?, ?, ?)")
            .bind(upload.id.to_string())
            .bind(seq as i64)
            .bind(part)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
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
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM upload_parts WHERE upload_id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM uploads WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn open_uploads(&self, owner: Option<&str>, now: i64) -> Result<u64, StoreError> {
        let row = match owner {
            Some(owner) => sqlx::query(
                "SELECT COUNT(*) AS open FROM uploads WHERE owner = ? AND post_id IS NULL AND expires_at >= ?",
            )
            .bind(owner),
            None => sqlx::query(
                "SELECT COUNT(*) AS open FROM uploads WHERE post_id IS NULL AND expires_at >= ?",
            ),
        }
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        let open: i64 = row.try_get("open")?;
        Ok(u64::try_from(open).unwrap_or(0))
    }

    async fn expired_uploads(&self, now: i64, limit: u32) -> Result<Vec<Upload>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, {FIRST_PART} FROM uploads WHERE expires_at < ? LIMIT ?"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(upload_of).collect()
    }
}
