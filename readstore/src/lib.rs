//! # imagegram-readstore
//!
//! The read side's storage: the read tables that projections build from the
//! log (posts, comments, each post's last two comments), the positions those
//! projections reached (stored in the same transaction as their effects, so
//! a crash can never count an event twice), the gateway's idempotency keys
//! and the processors' record of what they already did.
//!
//! [`ReadStore`] is the port; [`SqlStore`] is its adapter for MySQL/MariaDB
//! (distributed) and SQLite (embedded), one code path through `sqlx::Any`
//! with the few statements that differ kept in `sql/dialect.rs`.
//!
//! ## Layout
//! - `port.rs`: the trait and the views it returns.
//! - `sql/mod.rs`: connecting, pragmas, migrations (`migrations/<dialect>/`).
//! - `sql/dialect.rs`: the SQL that differs between MySQL and SQLite.
//! - `sql/apply/`: folding a batch of events into the tables, exactly once:
//!   `batch.rs` (the transaction and its positions), `posts.rs` (post
//!   events), `comment_plan.rs` (a batch's comments planned in memory,
//!   pure), `comments.rs` and `comment_writes.rs` (the few multi-row
//!   statements that carry the plan out).
//! - `sql/queries.rs`: posts, comments and feed pages.
//! - `sql/requests.rs`: idempotency keys and processed-event marks.
//! - `sql/rebuild.rs`: shadow tables, the atomic swap, table counts.
//! - `sql/uploads.rs`: resumable uploads' state.
//! - `error.rs`: [`StoreError`], this crate's one error type.

mod error;
mod port;
mod sql;

pub use error::StoreError;
pub use port::{
    Advance, Applied, Claim, CommentState, CommentView, Counts, FeedKey, PostStatus, PostView, ReadStore,
    Upload,
};
pub use sql::SqlStore;
