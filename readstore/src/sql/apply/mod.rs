//! Folding events into the read tables. A batch and the positions it
//! reached commit together, so after any crash the projection resumes
//! exactly where its effects end. Every statement is also idempotent by id,
//! so an event that reaches the log twice has its effect once. A batch's
//! comments go through `comments.rs`, a few statements in all.

mod batch;
mod comment_plan;
mod comment_writes;
mod comments;
mod posts;

use imagegram_eventlog::Position;
use imagegram_schemas::Event;
use sqlx::Row;

use super::store::SqlStore;
use crate::{Advance, Applied, StoreError};
use batch::Batch;
use comment_plan::CommentEvent;

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
