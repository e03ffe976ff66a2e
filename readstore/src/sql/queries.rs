//! Reading posts, comments and feed pages.

use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use super::store::{text, text_or_null, SqlStore};
use crate::{CommentState, CommentView, FeedKey, PostStatus, PostView, StoreError};

fn select_post(store: &SqlStore) -> String {
    format!(
        "SELECT id, creator, caption, created_at, status, failure_reason, image_key, \
         width, height, comment_count, last_comments, version FROM {}",
        store.tables.posts
    )
}

fn parse_uuid(value: &str, what: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(value).map_err(|e| StoreError::Corrupt(format!("{what} {value:?}: {e}")))
}

fn post_of(row: &AnyRow) -> Result<PostView, StoreError> {
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let last = text(row, "last_comments")?;
    let last_comments: Vec<CommentView> = serde_json::from_str(&last)
        .map_err(|e| StoreError::Corrupt(format!("last_comments of {id}: {e}")))?;
    Ok(PostView {
        id: parse_uuid(&id, "post id")?,
        creator: row.try_get("creator")?,
        caption: text(row, "caption")?,
        created_at: row.try_get("created_at")?,
        status: PostStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        failure_reason: text_or_null(row, "failure_reason")?,
        image_key: row.try_get("image_key")?,
        width: row.try_get("width")?,
        height: row.try_get("height")?,
        comment_count: row.try_get("comment_count")?,
        last_comments,
        version: row.try_get("version")?,
    })
}

pub(super) async fn post(store: &SqlStore, id: Uuid) -> Result<Option<PostView>, StoreError> {
    let sql = format!("{} WHERE id = ? AND requested = 1", select_post(store));
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(post_of).transpose()
}

pub(super) async fn posts(store: &SqlStore, ids: &[Uuid]) -> Result<Vec<PostView>, StoreError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(400) {
        let sql = format!(
            "{} WHERE requested = 1 AND id IN ({})",
            select_post(store),
            vec!["?"; chunk.len()].join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&store.pool).await? {
            out.push(post_of(&row)?);
        }
    }
    Ok(out)
}

pub(super) async fn comment(
    store: &SqlStore,
    post_id: Uuid,
    comment_id: Uuid,
) -> Result<Option<CommentState>, StoreError> {
    let sql = format!(
        "SELECT creator, deleted FROM {} WHERE id = ? AND post_id = ?",
        store.tables.comments
    );
    let row = sqlx::query(&sql)
        .bind(comment_id.to_string())
        .bind(post_id.to_string())
        .fetch_optional(&store.pool)
        .await?;
    row.map(|row| {
        let deleted: i64 = row.try_get("deleted")?;
        Ok(CommentState {
            creator: row.try_get("creator")?,
            deleted: deleted != 0,
        })
    })
    .transpose()
}

/// Keyset paging: one indexed range scan per page, however deep.
pub(super) async fn feed(
    store: &SqlStore,
    after: Option<FeedKey>,
    limit: u32,
) -> Result<Vec<PostView>, StoreError> {
    let order = "ORDER BY comment_count DESC, created_at DESC, id ASC LIMIT ?";
    let rows = match after {
        None => {
            let sql = format!(
                "{} WHERE requested = 1 AND status = 'published' {order}",
                select_post(store)
            );
            sqlx::query(&sql)
                .bind(i64::from(limit))
                .fetch_all(&store.pool)
                .await?
        }
        Some(key) => {
            let sql = format!(
                "{} WHERE requested = 1 AND status = 'published' AND (comment_count < ? \
                 OR (comment_count = ? AND (created_at < ? OR (created_at = ? AND id > ?)))) {order}",
                select_post(store)
            );
            sqlx::query(&sql)
                .bind(key.comment_count)
                .bind(key.comment_count)
                .bind(key.created_at)
                .bind(key.created_at)
                .bind(key.id.to_string())
                .bind(i64::from(limit))
                .fetch_all(&store.pool)
                .await?
        }
    };
    rows.iter().map(post_of).collect()
}
