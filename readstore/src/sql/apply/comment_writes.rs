//! The writes and reads behind `comment_batch.rs`: each a few multi-row
//! statements, in chunks well under both databases' placeholder limits.

use std::collections::HashMap;

use imagegram_schemas::{CommentAdded, CommentDeleted};
use sqlx::Row;
use uuid::Uuid;

use super::batch::Batch;
use super::comment_plan::{newest_first, Stored};
use crate::sql::store::{now_us, text};
use crate::{CommentView, StoreError};

/// Rows per statement.
pub(super) const CHUNK: usize = 400;
/// Posts per last-two query (one indexed `LIMIT 2` branch each).
const REQUERY_CHUNK: usize = 100;

/// `?, ?, …`: `n` placeholders for an `IN (…)` list.
fn in_list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn bind_ids<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ids: &[Uuid],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for id in ids {
        query = query.bind(id.to_string());
    }
    query
}

/// `(?, ?, …)` repeated `rows` times, each with `columns` placeholders.
pub(super) fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

fn uuid_of(row: &sqlx::any::AnyRow, column: &str) -> Result<Uuid, StoreError> {
    let value: String = row.try_get(column)?;
    Uuid::parse_str(&value).map_err(|e| StoreError::Corrupt(format!("{column} {value}: {e}")))
}

fn comment_of(row: &sqlx::any::AnyRow) -> Result<CommentView, StoreError> {
    Ok(CommentView {
        id: uuid_of(row, "id")?,
        post_id: uuid_of(row, "post_id")?,
        creator: row.try_get("creator")?,
        content: text(row, "content")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Batch<'_> {
    pub(super) async fn stored_comments(
        &mut self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Stored>, StoreError> {
        let mut stored = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, post_id, creator, deleted FROM {} WHERE id IN ({})",
                self.store.tables.comments,
                in_list(chunk.len())
            );
            let query = bind_ids(sqlx::query(&sql), chunk);
            for row in query.fetch_all(&mut *self.tx).await? {
                let deleted: i64 = row.try_get("deleted")?;
                let state = Stored {
                    post_id: uuid_of(&row, "post_id")?,
                    creator: row.try_get("creator")?,
                    deleted: deleted != 0,
                };
                stored.insert(uuid_of(&row, "id")?, state);
            }
        }
        Ok(stored)
    }

    pub(super) async fn insert_comments(
        &mut self,
        inserts: &[(&CommentAdded, bool)],
    ) -> Result<(), StoreError> {
        for chunk in inserts.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO {} (id, post_id, creator, content, created_at, deleted) VALUES {}",
                self.store.tables.comments,
                placeholders(chunk.len(), 6)
            );
            let mut query = sqlx::query(&sql);
            for (e, deleted) in chunk {
                query = query
                    .bind(e.comment_id.to_string())
                    .bind(e.meta.post_id.to_string())
                    .bind(&e.meta.actor)
                    .bind(&e.content)
                    .bind(e.meta.occurred_at)
                    .bind(i64::from(*deleted));
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    pub(super) async fn mark_deleted(&mut self, ids: &[Uuid]) -> Result<(), StoreError> {
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "UPDATE {} SET deleted = 1 WHERE id IN ({})",
                self.store.tables.comments,
                in_list(chunk.len())
            );
            let query = bind_ids(sqlx::query(&sql), chunk);
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    pub(super) async fn record_refusals(
        &mut self,
        rejects: &[(&CommentDeleted, &'static str)],
    ) -> Result<(), StoreError> {
        for (e, reason) in rejects {
            tracing::warn!(event_id = %e.meta.event_id, actor = %e.meta.actor, reason, "comment delete refused");
        }
        for chunk in rejects.chunks(CHUNK) {
            let sql = format!(
                "{} INTO {} (event_id, kind, post_id, actor, reason, recorded_at) VALUES {}",
                self.store.dialect.insert_ignore(),
                self.store.tables.rejected,
                placeholders(chunk.len(), 6)
            );
            let mut query = sqlx::query(&sql);
            for (e, reason) in chunk {
                query = query
                    .bind(e.meta.event_id.to_string())
                    .bind("CommentDeleted")
                    .bind(e.meta.post_id.to_string())
                    .bind(&e.meta.actor)
                    .bind(*reason)
                    .bind(now_us());
            }
            query.execute(&mut *self.tx).await?;
        }
        self.report.rejected += rejects.len();
        Ok(())
    }

    pub(super) async fn last_comments_of(
        &mut self,
        posts: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<CommentView>>, StoreError> {
        let mut last = HashMap::new();
        for chunk in posts.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, last_comments FROM {} WHERE id IN ({})",
                self.store.tables.posts,
                in_list(chunk.len())
            );
            let query = bind_ids(sqlx::query(&sql), chunk);
            for row in query.fetch_all(&mut *self.tx).await? {
                let post = uuid_of(&row, "id")?;
                let comments: Vec<CommentView> = serde_json::from_str(&text(&row, "last_comments")?)
                    .map_err(|e| StoreError::Corrupt(format!("last_comments of {post}: {e}")))?;
                last.insert(post, comments);
            }
        }
        Ok(last)
    }

    /// The last two live comments of each post, from the table (after this
    /// batch's writes): one indexed `LIMIT 2` branch per post.
    pub(super) async fn live_last_two(
        &mut self,
        posts: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<CommentView>>, StoreError> {
        let mut found: HashMap<Uuid, Vec<CommentView>> = posts.iter().map(|&p| (p, Vec::new())).collect();
        for chunk in posts.chunks(REQUERY_CHUNK) {
            let branch = format!(
                "SELECT * FROM (SELECT id, post_id, creator, content, created_at FROM {} \
                 WHERE post_id = ? AND deleted = 0 ORDER BY created_at DESC, id DESC LIMIT 2) AS t",
                self.store.tables.comments
            );
            let sql = vec![branch.as_str(); chunk.len()].join(" UNION ALL ");
            let mut query = sqlx::query(&sql);
            for post in chunk {
                query = query.bind(post.to_string());
            }
            for row in query.fetch_all(&mut *self.tx).await? {
                let comment = comment_of(&row)?;
                found.entry(comment.post_id).or_default().push(comment);
            }
        }
        for two in found.values_mut() {
            newest_first(two);
        }
        Ok(found)
    }

    /// Adds each post's count change and sets its last two; a post not seen
    /// yet gets a placeholder row (`requested = 0`).
    pub(super) async fn upsert_counts(
        &mut self,
        rows: &[(Uuid, i64, Vec<CommentView>)],
    ) -> Result<(), StoreError> {
        let set = "comment_count = comment_count + NEW(comment_count), \
                   last_comments = NEW(last_comments), version = version + 1";
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO {} (id, requested, creator, caption, created_at, status, original_key, \
                 comment_count, last_comments, version) VALUES {} {}",
                self.store.tables.posts,
                placeholders(chunk.len(), 10),
                self.store.dialect.upsert("id", set)
            );
            let mut query = sqlx::query(&sql);
            for (post, delta, two) in chunk {
                let json = serde_json::to_string(two).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let first_at = two.last().map_or(0, |c| c.created_at);
                query = query
                    .bind(post.to_string())
                    .bind(0i64)
                    .bind("")
                    .bind("")
                    .bind(first_at)
                    .bind("processing")
                    .bind("")
                    .bind(*delta)
                    .bind(json)
                    .bind(1i64);
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }
}
