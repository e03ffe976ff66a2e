//! # imagegram-platform
//!
//! What every role of Imagegram needs at start and stop, whatever it does:
//! its settings (flags and `IMAGEGRAM_*` variables), logs, spans and metrics, the
//! event log it talks to with its topics in place, and a graceful shutdown.
//!
//! ## Layout
//! - `settings.rs`: the clap settings shared by every role.
//! - `telemetry.rs`: the `tracing` subscriber (text or JSON), writing
//!   through a queue that drops and counts lines rather than block or
//!   panic; and the startup lines on stdout.
//! - `metrics.rs`: the Prometheus recorder every crate's metrics land in.
//! - `replay.rs`: a topic's records decoded for analysts (`imagegram replay`);
//!   `status.rs`: lag, dead letters and open uploads in one look.
//! - `shutdown.rs`: SIGTERM/SIGINT → cancellation, with a hard deadline.
//! - `storage.rs`: blob-store and read-store settings, and opening them.
//! - `topics.rs`: opens the configured log and creates missing topics.
//! - `error.rs`: [`PlatformError`], this crate's one error type.

mod error;
pub mod metrics;
pub mod replay;
pub mod settings;
pub mod shutdown;
pub mod status;
pub mod storage;
pub mod telemetry;
pub mod topics;

pub use error::PlatformError;
pub use settings::{CommonSettings, LogBackend, LogSettings};
pub use shutdown::Shutdown;
pub use storage::{BlobSettings, StoreSettings};
