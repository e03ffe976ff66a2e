//! # imagegram-processors
//!
//! Stream processors: consumers that do the work events ask for and append
//! what they did. They run as consumer groups, so `imagegram process` on
//! several machines shares the partitions; in the embedded mode they run
//! inside `imagegram serve`.
//!
//! Every processor is idempotent: it skips events it already handled
//! (marks in the read database, shared by all instances), derives the ids of
//! what it appends from the event it handled, retries failures that may pass
//! with backoff, and sends poison (undecodable bytes, unknown schemas,
//! conversions that crashed three times) to its dead-letter topic.
//!
//! ## Layout
//! - `convert/`: original → served JPEG, pure: `mod.rs` sniffs, checks the header
//!   and orients; `png_rows.rs` decodes PNG row by row into `shrink.rs`'s box
//!   accumulator; `jpeg/decode.rs` decodes JPEG (CMYK too) scaled in the DCT
//!   domain, `jpeg/encode.rs` (over `encode.c`, libjpeg-turbo's libjpeg
//!   API) makes the served JPEG with its own tables; `colour/` reads profiles, gAMA/cHRM and
//!   CMYK and makes pixels sRGB (qcms); `resize.rs` does the final Lanczos
//!   pass.
//! - `converter.rs`: the image-conversion processor around it;
//!   `lanes.rs`: small originals in a lane of their own.
//! - `dead_letters.rs`: `imagegram dlq list|replay`.
//! - `runner.rs`: the consumer loop every processor runs in.
//! - `metrics.rs`: conversions and dead letters, counted for `/metrics`.
//! - `error.rs`: [`ProcessorError`], this crate's one error type.

pub mod convert;
mod converter;
pub mod dead_letters;
mod error;
mod lanes;
pub mod metrics;
mod runner;

pub use converter::ImageConverter;
pub use error::{Failure, ProcessorError};
pub use lanes::{Lane, SMALL_ORIGINAL_BYTES};
pub use runner::{Processor, Runner, RunnerOptions};
