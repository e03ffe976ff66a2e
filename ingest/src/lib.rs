//! # imagegram-ingest
//!
//! The ingest gateway: the HTTP front door. It checks each request, stores
//! what must be stored, appends the event to the log and answers. It never
//! writes read tables; the read side is built from the log by projections.
//!
//! ## Layout
//! - `server.rs`: binds, serves, drains on shutdown.
//! - `health.rs`: `/healthz` (process up) and `/readyz` (dependencies reachable).
//! - `problem.rs`: `application/problem+json` answers for every error.
//! - `error.rs`: [`IngestError`], this crate's one error type.

mod error;
mod health;
mod problem;
mod server;

pub use error::IngestError;
pub use health::{LogProbe, Probe};
pub use problem::Problem;
pub use server::{bind, router, serve, AppState};
