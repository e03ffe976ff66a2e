//! # imagegram-readstore
//!
//! The read side's storage: the read tables that projections build from the
//! log (posts, comments, each post's last two comments), the positions those
//! projections reached (stored in the same transaction as their effects, so
//! a crash can never count an event twice), the gateway's idempotency keys
//! and the processors' record of what they already did.
//!
//! Four ports, one per concern, so each caller depends on what it uses:
//! [`ReadModel`] (projections write it, queries and the feed read it),
//! [`RequestRecords`] (the gateway's idempotency keys, the processors'
//! processed marks), [`UploadSessions`] (resumable uploads) and
//! [`GatewayDirectory`] (where each gateway instance is reached).
//! [`SqlStore`] implements all four for MySQL/MariaDB (distributed) and
//! SQLite (embedded), one code path through `sqlx::Any` with the few
//! statements that differ kept in `sql/dialect.rs`; [`ReadStores`] hands
//! out one database's ports.
//!
//! ## Layout
//! - `port/`: the four traits and what they return (`model.rs`,
//!   `requests.rs`, `uploads.rs`, `gateways.rs`), and [`ReadStores`] (`mod.rs`).
//! - `sql/store.rs`: connecting, pragmas, table names, TEXT columns;
//!   `sql/migrate.rs`: migrations (`migrations/<dialect>/`), finishing one
//!   a crash cut short; `sql/mod.rs`: the read model's implementation.
//! - `sql/dialect.rs`: the SQL that differs between MySQL and SQLite.
//! - `sql/apply/`: folding a batch of events into the tables, exactly once:
//!   `batch.rs` (the transaction and its positions), `posts.rs` (post
//!   events), `comment_plan.rs` (a batch's comments planned in memory,
//!   pure), `comments.rs` and `comment_writes.rs` (the few multi-row
//!   statements that carry the plan out).
//! - `sql/queries.rs`: posts, comments and feed pages.
//! - `sql/requests.rs`: idempotency keys and processed-event marks (the
//!   [`RequestRecords`] implementation).
//! - `sql/request_batch.rs`: idempotency claims and answers written in
//!   batches, one transaction for all that arrive while the last commits.
//! - `sql/rebuild.rs`: shadow tables, the atomic swap, table counts.
//! - `sql/uploads.rs`: resumable uploads' state (the [`UploadSessions`]
//!   implementation).
//! - `sql/gateways.rs`: the [`GatewayDirectory`] implementation.
//! - `error.rs`: [`StoreError`], this crate's one error type.

mod error;
mod port;
mod sql;

pub use error::StoreError;
pub use port::{
    Advance, Applied, Claim, CommentState, CommentView, Counts, FeedKey, GatewayDirectory, PostStatus,
    PostView, ReadModel, ReadStores, RequestRecords, Upload, UploadSessions,
};
pub use sql::{Durability, SqlStore};
