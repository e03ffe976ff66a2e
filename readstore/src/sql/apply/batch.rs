//! A batch being applied: one transaction, the positions it moves, and
//! the report of what it did. The bottom of `apply/`.

use sqlx::{Any, Transaction};
use uuid::Uuid;

use crate::sql::store::SqlStore;
use crate::{Advance, Applied, StoreError};

pub(crate) struct Batch<'a> {
    pub(crate) store: &'a SqlStore,
    pub(crate) tx: Transaction<'static, Any>,
    pub(crate) report: Applied,
}

impl Batch<'_> {
    /// Compare-and-set of one position; `Conflict` if it is not at `from`.
    pub(super) async fn advance(&mut self, projection: &str, advance: &Advance) -> Result<(), StoreError> {
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
}
