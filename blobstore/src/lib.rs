//! # imagegram-blobstore
//!
//! The blob-store port and its adapters. Originals and converted JPEGs are
//! stored through [`BlobStore`]; which store sits behind it is a start-up
//! choice:
//!
//! - [`files::FileStore`]: files under the data dir (the embedded default).
//!   Objects are written to a temporary file, fsynced and renamed, so a
//!   reader never sees half an object. It also writes a resumable upload
//!   in place ([`BlobStore::write_at`]), and joins one object by a hard
//!   link.
//! - [`s3::S3Store`]: S3 or any S3-compatible store (MinIO, moto, Ceph)
//!   through `aws-sdk-s3`; large bodies go up as multipart uploads, so memory
//!   stays bounded by the part size whatever the object's size.
//!
//! Keys come from ids ([`keys`]), never from names a client sent; every
//! adapter refuses keys outside a small safe alphabet.
//!
//! ## Layout
//! - `port.rs`: the trait, the byte-stream type and key validation.
//! - `keys.rs`: where originals and converted images live.
//! - `files/`: the local-files adapter (`mod.rs`, with writes in place);
//!   `batched.rs` writes a stream in 1 MiB writes, each started on its way
//!   to the disk at once; `compose.rs` joins parts by `copy_file_range`,
//!   or one part by a hard link.
//! - `s3/`: the S3 adapter (`mod.rs`) over a connected bucket (`bucket.rs`):
//!   streaming uploads (`upload.rs`) and joins by server-side part copies
//!   (`compose.rs`), both through one multipart writer (`multipart.rs`).
//! - `config.rs`: [`BlobConfig`] and [`open`].
//! - `error.rs`: [`BlobError`], this crate's one error type.

mod config;
mod error;
pub mod files;
pub mod keys;
mod port;
pub mod s3;

pub use config::{open, BlobConfig};
pub use error::BlobError;
pub use port::{stream_of, validate_key, validate_prefix, BlobStore, ByteStream, Listed};
