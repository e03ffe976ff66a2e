//! Every end-to-end test of the `imagegram` binary, in one test binary:
//! each module starts the real binary (or its subcommands) embedded, and on
//! Kafka + S3 + MySQL when `IMAGEGRAM_TEST_*` name them, through the one
//! `support` module. nextest runs every test in a process of its own.

#[macro_use]
mod support;

mod concurrent_starts;
mod dropped_connections;
mod feed;
mod feed_across_gateways;
mod full_disk;
mod held_sockets;
mod kill_storm;
mod large_heads;
mod large_uploads;
mod legacy_routes;
mod log_output;
mod notifications;
mod operating;
mod outages;
mod projector_crash;
mod rate_limits;
mod read_your_writes;
mod rebuild_cli;
mod replay;
mod serve;
mod tus_js_client;
mod uploads;
mod web_client;
mod write_path;
