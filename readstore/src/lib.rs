//! # imagegram-readstore
//!
//! The read side's storage: the read tables that projections build from the
//! log (posts, comments, each post's last two comments), the positions those
//! projections reached (stored in the same transaction as their effects, so
//! a crash can never count an event twice), the gateway's idempotency keys
//! and the processors' record of what they already did.
//!
//! Five ports, one per concern, so each caller depends on what it uses:
//! [`ReadModel`] (projections write it, queries and the feed read it),
//! [`IdempotencyKeys`] (the gateway's keyed requests), [`RequestRecords`]
//! (the processors' processed marks, daily upload bytes),
//! [`UploadSessions`] (resumable uploads) and [`GatewayDirectory`] (where
//! each gateway instance is reached). [`SqlStore`] implements all five for
//! MySQL/MariaDB (distributed) and SQLite, one code path through
//! `sqlx::Any` with the few statements that differ kept in
//! `sql/dialect.rs`. The embedded mode keeps its idempotency keys in the
//! embedded log's file instead ([`EmbeddedKeys`]). [`ReadStores`] hands
//! out the ports.
//!
//! ## Layout
//! - `port/`: the five traits and what they return (`model.rs`,
//!   `keys.rs`, `requests.rs`, `uploads.rs`, `gateways.rs`), and
//!   [`ReadStores`] (`mod.rs`).
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
//! - `sql/keys.rs`: idempotency keys (the [`IdempotencyKeys`]
//!   implementation); `sql/request_batch.rs`: their claims and answers
//!   written in batches, one transaction for all that arrive while the last commits.
//! - `sql/requests.rs`: processed-event marks and daily bytes (the
//!   [`RequestRecords`] implementation).
//! - `embedded_keys/`: the embedded mode's idempotency keys, in the
//!   embedded log's file and commits: `mod.rs` (the [`EmbeddedKeys`]
//!   handle, which decides each call in memory and queues the changes
//!   for the log's next commit to store), `entry.rs` (a key's
//!   state and the pure decisions on it), `pending.rs` (changes decided
//!   but not yet stored), `tables.rs` (the tables, and writing changes
//!   and prunes in a transaction of the log's).
//! - `sql/rebuild.rs`: shadow tables, the atomic swap, table counts.
//! - `sql/uploads.rs`: resumable uploads' state (the [`UploadSessions`]
//!   implementation).
//! - `sql/gateways.rs`: the [`GatewayDirectory`] implementation.
//! - `error.rs`: [`StoreError`], this crate's one error type.

mod embedded_keys;
mod error;
mod port;
mod sql;

pub use embedded_keys::EmbeddedKeys;
pub use error::StoreError;
pub use port::{
    Advance, Answer, Applied, Claim, CommentState, CommentView, Counts, Durable, FeedKey, GatewayDirectory,
    IdempotencyKeys, PostStatus, PostView, ReadModel, ReadStores, RequestRecords, Upload, UploadSessions,
};
pub use sql::{Durability, SqlStore};
