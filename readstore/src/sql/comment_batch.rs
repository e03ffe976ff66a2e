//! The comments of a batch, applied in a few multi-row statements instead
//! of several per event: comments are most of the traffic. What each event
//! does is decided in memory first ([`plan`], pure), from what the database
//! already holds of the comments the batch names; then one insert adds the
//! new comments, one update marks deletes, one insert records refused
//! deletes, and one upsert sets each touched post's count and last two.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use imagegram_schemas::{CommentAdded, CommentDeleted};
use sqlx::Row;
use uuid::Uuid;

use super::apply::Batch;
use super::{now_us, text};
use crate::{CommentView, StoreError};

/// Rows per statement: well under both databases' placeholder limits.
const CHUNK: usize = 400;
/// Posts per last-two query (one indexed `LIMIT 2` branch each).
const REQUERY_CHUNK: usize = 100;

#[derive(Clone, Copy)]
pub(super) enum CommentEvent<'a> {
    Added(&'a CommentAdded),
    Deleted(&'a CommentDeleted),
}

/// What the database holds of a comment.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    pub post_id: Uuid,
    pub creator: String,
    pub deleted: bool,
}

/// The effect of a batch's comment events.
#[derive(Default)]
pub(super) struct Plan<'a> {
    /// New comments, and whether a later event in the batch deleted them.
    pub inserts: Vec<(&'a CommentAdded, bool)>,
    /// Stored comments to mark deleted.
    pub deletes: Vec<Uuid>,
    pub rejects: Vec<(&'a CommentDeleted, &'static str)>,
    /// Change of each touched post's live comment count.
    pub deltas: BTreeMap<Uuid, i64>,
    /// Comments deleted in this batch, by post.
    pub removed: BTreeMap<Uuid, HashSet<Uuid>>,
}

/// Decides every event's effect, in log order: a comment added twice counts
/// once, a delete of a missing comment, of one on another post or by anyone
/// but its author is refused, a delete of a deleted comment does nothing.
pub(super) fn plan<'a>(events: &[CommentEvent<'a>], stored: &HashMap<Uuid, Stored>) -> Plan<'a> {
    let mut plan = Plan::default();
    let mut known: HashMap<Uuid, Stored> = HashMap::new();
    let mut inserted_at: HashMap<Uuid, usize> = HashMap::new();
    for event in events {
        match *event {
            CommentEvent::Added(e) => {
                if stored.contains_key(&e.comment_id) || known.contains_key(&e.comment_id) {
                    continue;
                }
                let post = e.meta.post_id;
                known.insert(
                    e.comment_id,
                    Stored {
                        post_id: post,
                        creator: e.meta.actor.clone(),
                        deleted: false,
                    },
                );
                inserted_at.insert(e.comment_id, plan.inserts.len());
                plan.inserts.push((e, false));
                *plan.deltas.entry(post).or_default() += 1;
            }
            CommentEvent::Deleted(e) => {
                let state = known.get(&e.comment_id).or_else(|| stored.get(&e.comment_id));
                let refusal = match state {
                    None => Some("no such comment"),
                    Some(s) if s.post_id != e.meta.post_id => Some("the comment belongs to another post"),
                    Some(s) if s.creator != e.meta.actor => Some("only the comment's author may delete it"),
                    Some(s) if s.deleted => continue,
                    Some(_) => None,
                };
                if let Some(reason) = refusal {
                    plan.rejects.push((e, reason));
                    continue;
                }
                let mut state = state.cloned().unwrap_or_else(|| Stored {
                    post_id: e.meta.post_id,
                    creator: e.meta.actor.clone(),
                    deleted: false,
                });
                state.deleted = true;
                match inserted_at.get(&e.comment_id) {
                    Some(&i) => plan.inserts[i].1 = true,
                    None => plan.deletes.push(e.comment_id),
                }
                known.insert(e.comment_id, state);
                *plan.deltas.entry(e.meta.post_id).or_default() -= 1;
                plan.removed
                    .entry(e.meta.post_id)
                    .or_default()
                    .insert(e.comment_id);
            }
        }
    }
    plan
}

/// The two newest of `candidates` (newest first, ties by the larger id, as
/// in SQL), or `None` when one of those two was deleted: then only the
/// database knows what comes next.
pub(super) fn newest_two(
    mut candidates: Vec<CommentView>,
    removed: Option<&HashSet<Uuid>>,
) -> Option<Vec<CommentView>> {
    newest_first(&mut candidates);
    candidates.dedup_by_key(|c| c.id);
    candidates.truncate(2);
    let gone = removed.is_some_and(|r| candidates.iter().any(|c| r.contains(&c.id)));
    (!gone).then_some(candidates)
}

fn newest_first(comments: &mut [CommentView]) {
    comments.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
}

/// `(?, ?, …)` repeated `rows` times, each with `columns` placeholders.
fn placeholders(rows: usize, columns: usize) -> String {
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
    pub(super) async fn apply_comments(&mut self, events: &[CommentEvent<'_>]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let ids: BTreeSet<Uuid> = events
            .iter()
            .map(|e| match e {
                CommentEvent::Added(a) => a.comment_id,
                CommentEvent::Deleted(d) => d.comment_id,
            })
            .collect();
        let stored = self.stored_comments(&ids.into_iter().collect::<Vec<_>>()).await?;
        let plan = plan(events, &stored);
        self.insert_comments(&plan.inserts).await?;
        self.mark_deleted(&plan.deletes).await?;
        self.record_refusals(&plan.rejects).await?;
        let mut added: BTreeMap<Uuid, Vec<CommentView>> = BTreeMap::new();
        for (e, _) in &plan.inserts {
            added.entry(e.meta.post_id).or_default().push(CommentView {
                id: e.comment_id,
                post_id: e.meta.post_id,
                creator: e.meta.actor.clone(),
                content: e.content.clone(),
                created_at: e.meta.occurred_at,
            });
        }
        let posts: Vec<Uuid> = plan.deltas.keys().copied().collect();
        let mut last = self.last_comments_of(&posts).await?;
        let mut rows = Vec::with_capacity(posts.len());
        let mut requery = Vec::new();
        for (&post, &delta) in &plan.deltas {
            let mut candidates = last.remove(&post).unwrap_or_default();
            candidates.extend(added.remove(&post).unwrap_or_default());
            let two = newest_two(candidates, plan.removed.get(&post));
            if two.is_none() {
                requery.push(post);
            }
            rows.push((post, delta, two.unwrap_or_default()));
            self.touched(post);
        }
        let mut fresh = self.live_last_two(&requery).await?;
        for (post, _, two) in rows.iter_mut() {
            if let Some(found) = fresh.remove(post) {
                *two = found;
            }
        }
        self.upsert_counts(&rows).await
    }

    async fn stored_comments(&mut self, ids: &[Uuid]) -> Result<HashMap<Uuid, Stored>, StoreError> {
        let mut stored = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, post_id, creator, deleted FROM {} WHERE id IN ({})",
                self.store.tables.comments,
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.to_string());
            }
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

    async fn insert_comments(&mut self, inserts: &[(&CommentAdded, bool)]) -> Result<(), StoreError> {
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

    async fn mark_deleted(&mut self, ids: &[Uuid]) -> Result<(), StoreError> {
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "UPDATE {} SET deleted = 1 WHERE id IN ({})",
                self.store.tables.comments,
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.to_string());
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn record_refusals(
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

    async fn last_comments_of(
        &mut self,
        posts: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<CommentView>>, StoreError> {
        let mut last = HashMap::new();
        for chunk in posts.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, last_comments FROM {} WHERE id IN ({})",
                self.store.tables.posts,
                vec!["?"; chunk.len()].join(", ")
            );
            let mut query = sqlx::query(&sql);
            for post in chunk {
                query = query.bind(post.to_string());
            }
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
    async fn live_last_two(&mut self, posts: &[Uuid]) -> Result<HashMap<Uuid, Vec<CommentView>>, StoreError> {
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
    async fn upsert_counts(&mut self, rows: &[(Uuid, i64, Vec<CommentView>)]) -> Result<(), StoreError> {
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

#[cfg(test)]
#[path = "comment_batch_tests.rs"]
mod tests;
