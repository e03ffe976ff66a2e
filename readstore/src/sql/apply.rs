//! Folding events into the read tables. A batch and the positions it
//! reached commit together, so after any crash the projection resumes
//! exactly where its effects end. Every statement is also idempotent by id,
//! so an event that reaches the log twice has its effect once. Runs of
//! added comments go through `comment_runs.rs`, a few statements per run.

use std::collections::BTreeSet;

use imagegram_eventlog::Position;
use imagegram_schemas::{
    CommentAdded, CommentDeleted, ConversionFailed, Event, ImageConverted, UploadRequested,
};
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use super::{now_us, text, SqlStore};
use crate::{Advance, Applied, CommentView, StoreError};

const POST_COLUMNS: &str = "(id, requested, creator, caption, created_at, status, failure_reason, \
     original_key, image_key, width, height, comment_count, last_comments, version)";

pub(super) async fn positions(store: &SqlStore, projection: &str) -> Result<Vec<Position>, StoreError> {
    let rows = sqlx::query("SELECT topic, part, next_offset FROM projection_positions WHERE projection = ?")
        .bind(projection)
        .fetch_all(&store.pool)
        .await?;
    rows.iter()
        .map(|row| {
            let part: i64 = row.try_get("part")?;
            let offset: i64 = row.try_get("next_offset")?;
            Ok(Position::new(
                row.try_get::<String, _>("topic")?,
                part as u32,
                offset as u64,
            ))
        })
        .collect()
}

pub(super) struct Batch<'a> {
    pub(super) store: &'a SqlStore,
    pub(super) tx: Transaction<'static, Any>,
    report: Applied,
    /// Posts whose last two comments must be recomputed.
    comments_changed: BTreeSet<Uuid>,
}

pub(super) async fn apply(
    store: &SqlStore,
    projection: &str,
    events: &[Event],
    advances: &[Advance],
) -> Result<Applied, StoreError> {
    let tx = store.pool.begin().await?;
    let mut batch = Batch {
        store,
        tx,
        report: Applied::default(),
        comments_changed: BTreeSet::new(),
    };
    // Positions first: the row locks taken here make a second projector wait,
    // then find the positions moved and back off before doing anything.
    for advance in advances {
        batch.advance(projection, advance).await?;
    }
    // Comments added in a row are applied together; anything else first
    // applies the run before it, so log order holds.
    let mut run: Vec<&CommentAdded> = Vec::new();
    for event in events {
        if let Event::CommentAdded(e) = event {
            run.push(e);
            continue;
        }
        batch.comment_run(&std::mem::take(&mut run)).await?;
        match event {
            Event::UploadRequested(e) => batch.upload_requested(e).await?,
            Event::ImageConverted(e) => batch.image_converted(e).await?,
            Event::ConversionFailed(e) => batch.conversion_failed(e).await?,
            Event::CommentDeleted(e) => batch.comment_deleted(e).await?,
            Event::CommentAdded(_) | Event::DeadLettered(_) => continue,
        }
    }
    batch.comment_run(&run).await?;
    for post in std::mem::take(&mut batch.comments_changed) {
        batch.refresh_last_comments(post).await?;
    }
    batch.tx.commit().await?;
    let mut report = batch.report;
    report.touched.sort();
    report.touched.dedup();
    Ok(report)
}

impl Batch<'_> {
    /// Compare-and-set of one position; `Conflict` if it is not at `from`.
    async fn advance(&mut self, projection: &str, advance: &Advance) -> Result<(), StoreError> {
        let moved = sqlx::query(
            "UPDATE projection_positions SET next_offset = ? \
             WHERE projection = ? AND topic = ? AND part = ? AND next_offset = ?",
        )
        .bind(advance.to as i64)
        .bind(projection)
        .bind(&advance.topic)
        .bind(advance.partition as i64)
        .bind(advance.from as i64)
        .execute(&mut *self.tx)
        .await?
        .rows_affected();
        if moved == 1 {
            return Ok(());
        }
        if advance.from != 0 {
            return Err(StoreError::Conflict(projection.to_owned()));
        }
        // First batch of this partition: the row must not exist yet.
        let inserted = sqlx::query(
            "INSERT INTO projection_positions (projection, topic, part, next_offset) VALUES (?, ?, ?, ?)",
        )
        .bind(projection)
        .bind(&advance.topic)
        .bind(advance.partition as i64)
        .bind(advance.to as i64)
        .execute(&mut *self.tx)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(projection.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn touched(&mut self, post: Uuid) {
        self.report.applied += 1;
        self.report.touched.push(post);
    }

    /// Inserts a post row, or on conflict runs `set` (see `Dialect::upsert`).
    async fn upsert_post(&mut self, values: PostRow<'_>, set: &str) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO posts {POST_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', 1) {}",
            self.store.dialect.upsert("id", set)
        );
        sqlx::query(&sql)
            .bind(values.id.to_string())
            .bind(values.requested)
            .bind(values.creator)
            .bind(values.caption)
            .bind(values.created_at)
            .bind(values.status)
            .bind(values.failure_reason)
            .bind(values.original_key)
            .bind(values.image_key)
            .bind(values.width)
            .bind(values.height)
            .bind(values.comment_count)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn upload_requested(&mut self, e: &UploadRequested) -> Result<(), StoreError> {
        let row = PostRow {
            requested: 1,
            creator: &e.meta.actor,
            caption: &e.caption,
            original_key: &e.original_key,
            ..PostRow::placeholder(e.meta.post_id, e.meta.occurred_at, "processing")
        };
        let set = "requested = 1, creator = NEW(creator), caption = NEW(caption), \
                   created_at = NEW(created_at), original_key = NEW(original_key), version = version + 1";
        self.upsert_post(row, set).await?;
        self.touched(e.meta.post_id);
        Ok(())
    }

    async fn image_converted(&mut self, e: &ImageConverted) -> Result<(), StoreError> {
        let row = PostRow {
            original_key: &e.original_key,
            image_key: Some(&e.image_key),
            width: Some(i64::from(e.width)),
            height: Some(i64::from(e.height)),
            ..PostRow::placeholder(e.meta.post_id, e.meta.occurred_at, "published")
        };
        let set = "failure_reason = NULL, status = 'published', image_key = NEW(image_key), \
                   width = NEW(width), height = NEW(height), version = version + 1";
        self.upsert_post(row, set).await?;
        self.touched(e.meta.post_id);
        Ok(())
    }

    async fn conversion_failed(&mut self, e: &ConversionFailed) -> Result<(), StoreError> {
        let row = PostRow {
            failure_reason: Some(&e.reason),
            ..PostRow::placeholder(e.meta.post_id, e.meta.occurred_at, "failed")
        };
        // A post once published stays published (the first decision wins).
        let set = "failure_reason = CASE WHEN status = 'published' THEN failure_reason \
                   ELSE NEW(failure_reason) END, \
                   status = CASE WHEN status = 'published' THEN status ELSE 'failed' END, \
                   version = version + 1";
        self.upsert_post(row, set).await?;
        self.touched(e.meta.post_id);
        Ok(())
    }

    async fn comment_deleted(&mut self, e: &CommentDeleted) -> Result<(), StoreError> {
        let found = sqlx::query("SELECT post_id, creator, deleted FROM comments WHERE id = ?")
            .bind(e.comment_id.to_string())
            .fetch_optional(&mut *self.tx)
            .await?;
        let Some(row) = found else {
            return self.reject(e, "no such comment").await;
        };
        let post_id: String = row.try_get("post_id")?;
        let creator: String = row.try_get("creator")?;
        let deleted: i64 = row.try_get("deleted")?;
        if post_id != e.meta.post_id.to_string() {
            return self.reject(e, "the comment belongs to another post").await;
        }
        if creator != e.meta.actor {
            return self.reject(e, "only the comment's author may delete it").await;
        }
        if deleted != 0 {
            return Ok(());
        }
        sqlx::query("UPDATE comments SET deleted = 1 WHERE id = ?")
            .bind(e.comment_id.to_string())
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("UPDATE posts SET comment_count = comment_count - 1, version = version + 1 WHERE id = ?")
            .bind(post_id)
            .execute(&mut *self.tx)
            .await?;
        self.comments_changed.insert(e.meta.post_id);
        self.touched(e.meta.post_id);
        Ok(())
    }

    async fn reject(&mut self, e: &CommentDeleted, reason: &str) -> Result<(), StoreError> {
        tracing::warn!(event_id = %e.meta.event_id, actor = %e.meta.actor, reason, "comment delete refused");
        let sql = format!(
            "{} INTO rejected_events (event_id, kind, post_id, actor, reason, recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            self.store.dialect.insert_ignore()
        );
        sqlx::query(&sql)
            .bind(e.meta.event_id.to_string())
            .bind("CommentDeleted")
            .bind(e.meta.post_id.to_string())
            .bind(&e.meta.actor)
            .bind(reason)
            .bind(now_us())
            .execute(&mut *self.tx)
            .await?;
        self.report.rejected += 1;
        Ok(())
    }

    async fn refresh_last_comments(&mut self, post: Uuid) -> Result<(), StoreError> {
        let rows = sqlx::query(
            "SELECT id, creator, content, created_at FROM comments \
             WHERE post_id = ? AND deleted = 0 ORDER BY created_at DESC, id DESC LIMIT 2",
        )
        .bind(post.to_string())
        .fetch_all(&mut *self.tx)
        .await?;
        let mut last = Vec::with_capacity(2);
        for row in rows {
            let id: String = row.try_get("id")?;
            last.push(CommentView {
                id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(format!("comment id {id}: {e}")))?,
                post_id: post,
                creator: row.try_get("creator")?,
                content: text(&row, "content")?,
                created_at: row.try_get("created_at")?,
            });
        }
        let json = serde_json::to_string(&last).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query("UPDATE posts SET last_comments = ? WHERE id = ?")
            .bind(json)
            .bind(post.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

/// The values of a new post row; most events know only some of them.
struct PostRow<'a> {
    id: Uuid,
    requested: i64,
    creator: &'a str,
    caption: &'a str,
    created_at: i64,
    status: &'a str,
    failure_reason: Option<&'a str>,
    original_key: &'a str,
    image_key: Option<&'a str>,
    width: Option<i64>,
    height: Option<i64>,
    comment_count: i64,
}

impl PostRow<'static> {
    /// A row for a post whose `UploadRequested` has not been applied yet;
    /// it stays out of every answer until it has (`requested = 0`).
    fn placeholder(id: Uuid, created_at: i64, status: &'static str) -> Self {
        PostRow {
            id,
            requested: 0,
            creator: "",
            caption: "",
            created_at,
            status,
            failure_reason: None,
            original_key: "",
            image_key: None,
            width: None,
            height: None,
            comment_count: 0,
        }
    }
}
