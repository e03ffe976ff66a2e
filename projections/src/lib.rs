//! # imagegram-projections
//!
//! Projections fold the log into the read tables. The projector reads the
//! upload, image and comment topics from the positions stored in the read
//! database (not from consumer-group offsets), applies each batch and the
//! positions it reached in one transaction, and announces what changed so
//! caches can follow. Kill it at any moment: it resumes exactly where its
//! last committed batch ended.
//!
//! The feed the gateway serves lives here too: the ranking of published
//! posts in memory (a persistent ordered set, so a snapshot per first page
//! is O(1)) and a moka cache of post views, both moved by following the log.
//!
//! ## Layout
//! - `projector.rs`: the read loop, retries and dead letters.
//! - `rebuild.rs`: replay into shadow tables, count check, atomic swap.
//! - `feed/`: `ranking.rs` (the order, pure), `mod.rs` (snapshots and the
//!   post cache), `follower.rs` (fresh from the log).
//! - `metrics.rs`: batches and cache lookups, counted for `/metrics`.
//! - `error.rs`: [`ProjectionError`], this crate's one error type.

mod error;
pub mod feed;
pub mod metrics;
mod projector;
pub mod rebuild;

pub use error::ProjectionError;
pub use projector::{Projector, READ_MODEL};
