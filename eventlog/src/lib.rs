//! # imagegram-eventlog
//!
//! The event-log port and its two adapters. Everything in Imagegram that
//! writes or reads events goes through [`EventLog`]; which backend sits
//! behind it is a start-up choice:
//!
//! - [`embedded::EmbeddedLog`]: a durable single-node log inside the process,
//!   stored in one [redb](https://docs.rs/redb) file. An append that returned
//!   `Ok` has been fsynced, so it survives `kill -9` and power loss.
//!   Concurrent appends share one fsync (group commit).
//! - [`kafka::KafkaLog`]: Kafka through `rdkafka`, with an idempotent
//!   producer and `acks=all`.
//!
//! Both place a record by the Java-compatible murmur2 hash of its key, so a
//! post's events land in the same partition whichever backend wrote them, and
//! both pass one contract suite (`tests/contract`).
//!
//! Readers come in two kinds: [`LogReader`] starts from positions the caller
//! supplies (projections keep positions in their own database), and
//! [`GroupReader`] shares partitions with the other members of a consumer
//! group and commits positions to the log (processors).
//!
//! ## Layout
//! - `port.rs`: the traits and the record types.
//! - `namespace.rs`: a prefix on every topic and group, to share a cluster.
//! - `metered.rs`: appends counted and timed for `/metrics`;
//!   `lag.rs`: how far each consumer is behind the end of the log.
//! - `partitioner.rs`: key → partition, murmur2 as Kafka's Java client does it.
//! - `config.rs`: [`LogConfig`] and [`open`], which picks the adapter.
//! - `embedded/`: the redb-backed log: `file.rs` (a new file appears
//!   whole), `handle.rs` (the open file, opened again after a failed
//!   commit), `layout.rs` (tables and record
//!   bytes), `writer.rs` (the group-commit thread), `side.rs` (tables of
//!   other components written in its commits, by a write of their own
//!   or by a rider that every commit runs), `store.rs` (the handle
//!   the log and readers share), `reader.rs` (tailing reads), `group.rs`
//!   (in-process consumer groups).
//! - `kafka/`: the rdkafka-backed log (`producer.rs`, `reader.rs`, `admin.rs`).
//! - `error.rs`: [`LogError`], this crate's one error type.

mod config;
pub mod embedded;
mod error;
pub mod kafka;
pub mod lag;
mod metered;
mod namespace;
mod partitioner;
mod port;

pub use config::{open, LogConfig};
pub use error::LogError;
pub use metered::{describe as describe_metrics, Metered};
pub use namespace::Namespaced;
pub use partitioner::{murmur2, partition_for};
pub use port::{Appended, Delivered, EventLog, GroupReader, LogReader, Position, Record, TopicSpec};
