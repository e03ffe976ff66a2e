//! Starting the roles a subcommand asks for, and stopping them on a signal.

use std::sync::Arc;

use imagegram_ingest::{AppState, LogProbe};
use imagegram_platform::Shutdown;

use crate::cli::{Cli, Command, HttpSettings};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let shutdown = Shutdown::new();
    shutdown.on_signals(cli.common.shutdown_grace())?;
    match &cli.command {
        Command::Serve(http) | Command::Ingest(http) => gateway(&cli, http, &shutdown).await?,
    }
    tracing::info!("stopped");
    Ok(())
}

async fn gateway(cli: &Cli, http: &HttpSettings, shutdown: &Shutdown) -> anyhow::Result<()> {
    let log = imagegram_platform::topics::open_log(&cli.common, &cli.log, "imagegram-ingest").await?;
    let state = AppState {
        probes: Arc::new(vec![Box::new(LogProbe(Arc::clone(&log)))]),
    };
    let listener = imagegram_ingest::bind(&http.listen).await?;
    let local = listener.local_addr()?;
    tracing::info!(%local, backend = log.backend(), "ingest gateway listening");
    println!("imagegram listening on http://{local}");
    imagegram_ingest::serve(listener, imagegram_ingest::router(state), shutdown.token()).await?;
    Ok(())
}
