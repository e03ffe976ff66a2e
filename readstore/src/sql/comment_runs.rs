//! Runs of `CommentAdded` applied a few statements per run, not per event:
//! comments are most of the traffic. For a run: one query finds which
//! comments are already stored (an event seen twice has its effect once),
//! one multi-row insert adds the rest, one query reads the touched posts'
//! last two comments, and one multi-row upsert sets each post's new count
//! and last two — merged in memory, newest first.

use std::collections::{BTreeMap, HashSet};

use imagegram_schemas::CommentAdded;
use sqlx::Row;
use uuid::Uuid;

use super::apply::Batch;
use super::text;
use crate::{CommentView, StoreError};

/// Rows per statement: well under both databases' placeholder limits.
const CHUNK: usize = 400;

/// `(?, ?, …)` repeated `rows` times, each with `columns` placeholders.
fn placeholders(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// The two newest of `comments`, newest first (ties by id, as in SQL).
pub(super) fn newest_two(mut comments: Vec<CommentView>) -> Vec<CommentView> {
    comments.sort_by(|a, b| (b.created_at, b.id).cmp(&(a.created_at, a.id)));
    comments.dedup_by_key(|c| c.id);
    comments.truncate(2);
    comments
}

impl Batch<'_> {
    pub(super) async fn comment_run(&mut self, run: &[&CommentAdded]) -> Result<(), StoreError> {
        let mut seen = HashSet::with_capacity(run.len());
        let mut fresh: Vec<&CommentAdded> = run.iter().copied().filter(|e| seen.insert(e.comment_id)).collect();
        let stored = self.stored_comments(&fresh).await?;
        fresh.retain(|e| !stored.contains(&e.comment_id));
        if fresh.is_empty() {
            return Ok(());
        }
        for chunk in fresh.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO comments (id, post_id, creator, content, created_at, deleted) VALUES {}",
                placeholders(chunk.len(), 6)
            );
            let mut query = sqlx::query(&sql);
            for e in chunk {
                query = query
                    .bind(e.comment_id.to_string())
                    .bind(e.meta.post_id.to_string())
                    .bind(&e.meta.actor)
                    .bind(&e.content)
                    .bind(e.meta.occurred_at)
                    .bind(0i64);
            }
            query.execute(&mut *self.tx).await?;
        }
        let mut by_post: BTreeMap<Uuid, Vec<&CommentAdded>> = BTreeMap::new();
        for e in &fresh {
            by_post.entry(e.meta.post_id).or_default().push(e);
            self.touched(e.meta.post_id);
        }
        let posts: Vec<Uuid> = by_post.keys().copied().collect();
        let mut last = self.last_comments_of(&posts).await?;
        let mut rows = Vec::with_capacity(posts.len());
        for (post, added) in by_post {
            let mut comments = last.remove(&post).unwrap_or_default();
            comments.extend(added.iter().map(|e| CommentView {
                id: e.comment_id,
                post_id: post,
                creator: e.meta.actor.clone(),
                content: e.content.clone(),
                created_at: e.meta.occurred_at,
            }));
            let json = serde_json::to_string(&newest_two(comments)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let first_at = added.iter().map(|e| e.meta.occurred_at).min().unwrap_or_default();
            rows.push((post, added.len() as i64, json, first_at));
        }
        self.upsert_counts(&rows).await
    }

    async fn stored_comments(&mut self, events: &[&CommentAdded]) -> Result<HashSet<Uuid>, StoreError> {
        let mut stored = HashSet::new();
        for chunk in events.chunks(CHUNK) {
            let sql = format!(
                "SELECT id FROM comments WHERE id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query(&sql);
            for e in chunk {
                query = query.bind(e.comment_id.to_string());
            }
            for row in query.fetch_all(&mut *self.tx).await? {
                let id: String = row.try_get("id")?;
                stored.insert(Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("comment id {id}: {e}")))?);
            }
        }
        Ok(stored)
    }

    async fn last_comments_of(&mut self, posts: &[Uuid]) -> Result<BTreeMap<Uuid, Vec<CommentView>>, StoreError> {
        let mut last = BTreeMap::new();
        for chunk in posts.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, last_comments FROM posts WHERE id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query(&sql);
            for post in chunk {
                query = query.bind(post.to_string());
            }
            for row in query.fetch_all(&mut *self.tx).await? {
                let id: String = row.try_get("id")?;
                let post = Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("post id {id}: {e}")))?;
                let comments: Vec<CommentView> = serde_json::from_str(&text(&row, "last_comments")?)
                    .map_err(|e| StoreError::Corrupt(format!("last_comments of {id}: {e}")))?;
                last.insert(post, comments);
            }
        }
        Ok(last)
    }

    /// Adds each post's new comments to its count and sets its last two; a
    /// post not seen yet gets a placeholder row (`requested = 0`).
    async fn upsert_counts(&mut self, rows: &[(Uuid, i64, String, i64)]) -> Result<(), StoreError> {
        let set = "comment_count = comment_count + NEW(comment_count), \
                   last_comments = NEW(last_comments), version = version + 1";
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO posts (id, requested, creator, caption, created_at, status, original_key, \
                 comment_count, last_comments, version) VALUES {} {}",
                placeholders(chunk.len(), 10),
                self.store.dialect.upsert("id", set)
            );
            let mut query = sqlx::query(&sql);
            for (post, added, json, first_at) in chunk {
                query = query
                    .bind(post.to_string())
                    .bind(0i64)
                    .bind("")
                    .bind("")
                    .bind(*first_at)
                    .bind("processing")
                    .bind("")
                    .bind(*added)
                    .bind(json.as_str())
                    .bind(1i64);
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(id: u128, at: i64) -> CommentView {
        CommentView {
            id: Uuid::from_u128(id),
            post_id: Uuid::nil(),
            creator: "a".into(),
            content: "c".into(),
            created_at: at,
        }
    }

    #[test]
    fn the_newest_two_win_and_ties_go_to_the_larger_id() {
        let two = newest_two(vec![comment(1, 5), comment(2, 9), comment(3, 5), comment(2, 9)]);
        let ids: Vec<u128> = two.iter().map(|c| c.id.as_u128()).collect();
        assert_eq!(ids, vec![2, 3]);
        assert_eq!(placeholders(2, 2), "(?, ?), (?, ?)");
    }
}
