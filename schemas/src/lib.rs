//! # imagegram-schemas
//!
//! The contract between every part of Imagegram: the events that travel on the
//! log, their Avro schemas (`schemas/avro/*.avsc`), the codec that writes them
//! in Avro *single-object encoding* (two marker bytes, the writer schema's
//! 8-byte Rabin fingerprint, then the datum), and the map of topics.
//!
//! Every schema version ever published stays in the [`registry`], so bytes
//! written by any past version decode today. New fields must have a default
//! (and a `#[serde(default)]` on the Rust side); that is checked by tests.
//!
//! ## Layout
//! - `events.rs`: the Rust event types and the [`Event`] sum of them.
//! - `registry.rs`: every published schema version, looked up by fingerprint.
//! - `codec.rs`: [`encode`] and [`decode`].
//! - `dead_letter.rs`: the dead letter of a record a consumer gave up on.
//! - `ids.rs`: ids derived from their cause (UUIDv5), for deduplication.
//! - `topics.rs`: topic names, partition counts and dead-letter topics, in one place.
//! - `error.rs`: [`SchemaError`], this crate's one error type.

mod codec;
pub mod dead_letter;
mod error;
mod events;
pub mod ids;
pub mod registry;
pub mod topics;

pub use codec::{decode, encode, fingerprint_of};
pub use error::SchemaError;
pub use events::now_us;
pub use events::{
    CommentAdded, CommentDeleted, ConversionFailed, DeadLettered, Event, EventKind, EventMeta,
    ImageConverted, ImageFormat, UploadRequested,
};
