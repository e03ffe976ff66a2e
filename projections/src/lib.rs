//! # imagegram-projections
//!
//! Projections fold the log into the read tables. The projector reads the
//! upload, image and comment topics from the positions stored in the read
//! database (not from consumer-group offsets), applies each batch and the
//! positions it reached in one transaction, and announces what changed so
//! caches can follow. Kill it at any moment: it resumes exactly where its
//! last committed batch ended.
//!
//! ## Layout
//! - `projector.rs`: the read loop, retries and dead letters.
//! - `error.rs`: [`ProjectionError`], this crate's one error type.

mod error;
mod projector;

pub use error::ProjectionError;
pub use projector::{Projector, READ_MODEL};
