//! `imagegram`: every role of Imagegram in one binary.
//!
//! `imagegram serve` runs them all in one process on embedded storage; the
//! other subcommands run one role each, for scaling out on Kafka, or are
//! an operator's tools.
//!
//! ## Layout
//! - `cli.rs`: subcommands and their settings; `roles.rs`: starting the
//!   roles and stopping them on a signal.
//! - `rebuild.rs`, `replay.rs`: the operator's and analyst's tools, done
//!   here or by a running server (`server.rs`, its client).

mod cli;
mod rebuild;
mod replay;
mod roles;
mod server;

use clap::Parser;

/// mimalloc instead of glibc's malloc: a profile of keyed comment writes
/// put 14% of all samples in glibc's malloc and free (redb's page
/// buffers, request and event bytes), most of it in arena bookkeeping.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let _log = imagegram_platform::telemetry::init(&cli.common)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(roles::run(cli))
}
