//! Command line: subcommands and their settings. Every setting also reads an
//! `IMAGEGRAM_*` environment variable (shown in `--help`).

use clap::{Args, Parser, Subcommand};
use imagegram_platform::{CommonSettings, LogSettings};

#[derive(Debug, Parser)]
#[command(
    name = "imagegram",
    version,
    about = "Imagegram: an event-sourced image-sharing backend"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonSettings,

    #[command(flatten)]
    pub log: LogSettings,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every role in one process (the embedded default needs nothing else).
    Serve(HttpSettings),
    /// Only the ingest gateway (HTTP API).
    Ingest(HttpSettings),
}

#[derive(Debug, Clone, Args)]
pub struct HttpSettings {
    /// Address the HTTP API listens on (port 0 picks a free port).
    #[arg(long, env = "IMAGEGRAM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
}
