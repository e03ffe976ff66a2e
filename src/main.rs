//! `imagegram`: every role of Imagegram in one binary.
//!
//! `imagegram serve` runs them all in one process on embedded storage; the
//! other subcommands run one role each, for scaling out on Kafka.

mod cli;
mod rebuild;
mod replay;
mod roles;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    imagegram_platform::telemetry::init(&cli.common)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(roles::run(cli))
}
