//! Folding events into the read tables. A batch and the positions it
//! reached commit together, so after any crash the projection resumes
//! exactly where its effects end. Every statement is also idempotent by id,
//! so an event that reaches the log twice has its effect once. A batch's
//! comments go through `comment_batch.rs`, a few statements in all.

use imagegram_eventlog::Position;
use imagegram_schemas::{ConversionFailed, Event, ImageConverted, UploadRequested};
use sqlx::{Any, Row, Transaction};
use uuid::Uuid;

use super::comment_batch::CommentEvent;
use super::SqlStore;
use crate::{Advance, Applied, StoreError};

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
    pub(super) report: Applied,
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
    };
    // Positions first: the row locks taken here make a second projector wait,
    // then find the positions moved and back off before doing anything.
    for advance in advances {
        batch.advance(projection, advance).await?;
    }
    // Post events and comment events touch different columns, so they
    // commute: post events one by one, then all comments together.
    let mut comments = Vec::new();
    for event in events {
        match event {
            Event::UploadRequested(e) => batch.upload_requested(e).await?,
            Event::ImageConverted(e) => batch.image_converted(e).await?,
            Event::ConversionFailed(e) => batch.conversion_failed(e).await?,
            Event::CommentAdded(e) => comments.push(CommentEvent::Added(e)),
            Event::CommentDeleted(e) => comments.push(CommentEvent::Deleted(e)),
            Event::DeadLettered(_) => continue,
        }
    }
    batch.apply_comments(&comments).await?;
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
            "INSERT INTO {} {POST_COLUMNS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', 1) {}",
            self.store.tables.posts,
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
