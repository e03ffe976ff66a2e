//! Post events (`UploadRequested`, `ImageConverted`, `ConversionFailed`)
//! as upserts of the post's row, each idempotent by post id.

use imagegram_schemas::{ConversionFailed, ImageConverted, UploadRequested};
use uuid::Uuid;

use super::batch::Batch;
use crate::StoreError;

const POST_COLUMNS: &str = "(id, requested, creator, caption, created_at, status, failure_reason, \
     original_key, image_key, width, height, comment_count, last_comments, version)";

impl Batch<'_> {
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

    pub(super) async fn upload_requested(&mut self, e: &UploadRequested) -> Result<(), StoreError> {
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

    pub(super) async fn image_converted(&mut self, e: &ImageConverted) -> Result<(), StoreError> {
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

    pub(super) async fn conversion_failed(&mut self, e: &ConversionFailed) -> Result<(), StoreError> {
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
