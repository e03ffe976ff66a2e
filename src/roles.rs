//! Starting the roles a subcommand asks for, and stopping them on a signal.

use std::sync::Arc;

use anyhow::Context;

use imagegram_blobstore::BlobStore;
use imagegram_eventlog::lag;
use imagegram_eventlog::{EventLog, LogError};
use imagegram_ingest::{Auth, Gateway, GatewaySettings, Ports};
use imagegram_platform::metrics::{BuildInfo, Metrics};
use imagegram_platform::{PlatformError, Shutdown};
use imagegram_processors::convert::{ConvertOptions, ResizeMode};
use imagegram_processors::dead_letters::{self, Listed};
use imagegram_processors::{ImageConverter, Lane, Runner, RunnerOptions};
use imagegram_projections::{Projector, READ_MODEL};
use imagegram_readstore::{ReadModel, ReadStores, RequestRecords};
use imagegram_schemas::topics::Consumer;
use tokio::task::JoinSet;

use crate::cli::{
    Cli, Command, ConsumerName, ConvertSettings, DlqAction, HttpSettings, MetricsListen, Resize,
    GATEWAY_METRICS,
};

/// What this build is, for `imagegram_build_info`.
const BUILD: BuildInfo = BuildInfo {
    version: env!("CARGO_PKG_VERSION"),
    commit: env!("IMAGEGRAM_GIT_COMMIT"),
};

/// The process's metrics, with every crate's help texts.
fn install_metrics() -> anyhow::Result<Metrics> {
    let metrics = Metrics::install(BUILD)?;
    imagegram_eventlog::describe_metrics();
    imagegram_ingest::describe_metrics();
    imagegram_processors::metrics::describe();
    imagegram_projections::metrics::describe();
    Ok(metrics)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Token {
        user,
        ttl,
        jwt_secret,
    } = &cli.command
    {
        let secret = imagegram_ingest::load_or_create_secret(jwt_secret.as_deref(), &cli.common.data_dir)?;
        println!("{}", Auth::from_secret(&secret).issue(user, *ttl)?);
        return Ok(());
    }
    let shutdown = Shutdown::new();
    shutdown.on_signals(cli.common.shutdown_grace())?;
    let opened = imagegram_platform::topics::open_log(&cli.common, &cli.log, "imagegram").await;
    let log = match opened {
        // The embedded log belongs to a running `serve`: the tools ask it.
        Err(PlatformError::Log(LogError::InUse(held))) => {
            return through_server(&cli, PlatformError::Log(LogError::InUse(held))).await
        }
        opened => opened?,
    };
    if let Command::Replay(args) = &cli.command {
        return crate::replay::replay(log, args).await;
    }
    let stores = cli.store.open(&cli.common, &*log).await?;
    if let Command::Rebuild { .. } = &cli.command {
        return crate::rebuild::rebuild(log, stores.model).await;
    }
    if let Command::Status { .. } = &cli.command {
        let status =
            imagegram_platform::status::gather(&*log, &*stores.model, &*stores.uploads, READ_MODEL).await?;
        print!("{}", status.render());
        return Ok(());
    }
    let mut roles = JoinSet::new();
    match &cli.command {
        Command::Serve {
            http,
            convert,
            metrics,
        } => {
            start_metrics(&mut roles, metrics.address(GATEWAY_METRICS), &shutdown).await?;
            let blobs = cli.blobs.open(&cli.common).await?;
            start_projector(&mut roles, &log, &stores.model, &shutdown);
            start_processors(&mut roles, &log, &stores.requests, &blobs, convert, &shutdown);
            start_gateway(&mut roles, &cli, http, log, stores, blobs, &shutdown).await?;
        }
        Command::Ingest { http, metrics } => {
            start_metrics(&mut roles, metrics.address(GATEWAY_METRICS), &shutdown).await?;
            let blobs = cli.blobs.open(&cli.common).await?;
            start_gateway(&mut roles, &cli, http, log, stores, blobs, &shutdown).await?;
        }
        Command::Process { convert, metrics } => {
            start_metrics(&mut roles, metrics.address(MetricsListen::Off), &shutdown).await?;
            let blobs = cli.blobs.open(&cli.common).await?;
            start_processors(&mut roles, &log, &stores.requests, &blobs, convert, &shutdown);
        }
        Command::Project { metrics } => {
            start_metrics(&mut roles, metrics.address(MetricsListen::Off), &shutdown).await?;
            start_projector(&mut roles, &log, &stores.model, &shutdown);
        }
        Command::Dlq { action, .. } => return dlq(action, &log, &stores.model).await,
        Command::Token { .. } | Command::Replay(_) | Command::Rebuild { .. } | Command::Status { .. } => {}
    }
    // The first role to end (a failure, or the drain after a signal) ends them all.
    let mut failure = None;
    while let Some(ended) = roles.join_next().await {
        shutdown.trigger();
        match ended {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(anyhow::anyhow!("a role panicked: {e}"))),
        }
    }
    tracing::info!("stopped");
    failure.map_or(Ok(()), Err)
}

type Roles = JoinSet<anyhow::Result<()>>;

/// The tools that a running server does for them while it holds the
/// embedded log; anything else fails with `in_use`.
async fn through_server(cli: &Cli, in_use: PlatformError) -> anyhow::Result<()> {
    use crate::server::Server;
    let data_dir = &cli.common.data_dir;
    match &cli.command {
        Command::Rebuild { access } => {
            crate::rebuild::through_server(&Server::find(data_dir, access, "rebuild")?).await
        }
        Command::Replay(args) => {
            let server = Server::find(data_dir, &args.access, "replay")?;
            crate::replay::through_server(&server, args).await
        }
        Command::Status { access } => {
            let server = Server::find(data_dir, access, "tell its status")?;
            let status: imagegram_platform::status::Status = server.get("/v1/admin/status", &[]).await?;
            print!("{}", status.render());
            Ok(())
        }
        Command::Dlq {
            action: DlqAction::List { consumer },
            access,
        } => {
            let server = Server::find(data_dir, access, "list the dead letters")?;
            let query: Vec<(&str, String)> = match consumer {
                Some(one) => ConsumerName::consumers(Some(*one))
                    .into_iter()
                    .map(|c| ("consumer", c.group().to_owned()))
                    .collect(),
                None => Vec::new(),
            };
            let listed: Vec<Listed> = server.get("/v1/admin/dead-letters", &query).await?;
            print_dead_letters(&listed);
            Ok(())
        }
        _ => Err(in_use.into()),
    }
}

fn print_dead_letters(listed: &[Listed]) {
    for letter in listed {
        println!("{}", letter.line());
    }
}

async fn dlq(action: &DlqAction, log: &Arc<dyn EventLog>, store: &Arc<dyn ReadModel>) -> anyhow::Result<()> {
    match action {
        DlqAction::List { consumer } => {
            let consumers = ConsumerName::consumers(*consumer);
            print_dead_letters(&dead_letters::listing(&**log, &consumers).await?);
        }
        DlqAction::Replay { consumer } => {
            for consumer in ConsumerName::consumers(*consumer) {
                let sent = dead_letters::replay(log, store, consumer).await?;
                println!("{}: {sent} dead letters sent back", consumer.group());
            }
        }
    }
    Ok(())
}

fn start_projector(
    roles: &mut Roles,
    log: &Arc<dyn EventLog>,
    store: &Arc<dyn ReadModel>,
    shutdown: &Shutdown,
) {
    let projector = Projector::new(Arc::clone(log), Arc::clone(store), READ_MODEL);
    let positions = Arc::clone(store);
    let fetch = move || {
        let store = Arc::clone(&positions);
        let fetched = async move { store.positions(READ_MODEL).await.map_err(|e| e.to_string()) };
        Box::pin(fetched) as futures::future::BoxFuture<'static, _>
    };
    lag::report(
        Arc::clone(log),
        Consumer::Projector.group(),
        inputs_of(Consumer::Projector),
        lag::Source::Fetched(Box::new(fetch)),
        shutdown.token(),
    );
    let stop = shutdown.token();
    roles.spawn(async move { Ok(projector.run(stop).await?) });
}

fn start_processors(
    roles: &mut Roles,
    log: &Arc<dyn EventLog>,
    records: &Arc<dyn RequestRecords>,
    blobs: &Arc<dyn BlobStore>,
    settings: &ConvertSettings,
    shutdown: &Shutdown,
) {
    let workers = settings
        .convert_workers
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let options = ConvertOptions {
        mode: match settings.resize {
            Resize::Cover => ResizeMode::Cover,
            Resize::Fit => ResizeMode::Fit,
        },
        quality: settings.jpeg_quality,
        max_pixels: settings.max_megapixels.saturating_mul(1_000_000),
        ..ConvertOptions::default()
    };
    for lane in Lane::ALL {
        // The large lane gets a member and a conversion slot per worker:
        // members share the partitions, so conversions of different posts
        // run side by side. The small lane gets one of each besides, so a
        // small original never waits for a large one's slot.
        let parallel = match lane {
            Lane::Large => workers,
            Lane::Small => 1,
        };
        let converter = Arc::new(ImageConverter::new(
            Arc::clone(blobs),
            options.clone(),
            parallel,
            lane,
        ));
        let group = lane.consumer().group();
        let source = lag::Source::Group(group.to_owned());
        lag::report(
            Arc::clone(log),
            group,
            inputs_of(lane.consumer()),
            source,
            shutdown.token(),
        );
        for _ in 0..parallel {
            let runner = Runner {
                log: Arc::clone(log),
                records: Arc::clone(records),
                processor: converter.clone(),
                options: RunnerOptions::default(),
            };
            let stop = shutdown.token();
            roles.spawn(async move { Ok(runner.run(stop).await?) });
        }
    }
}

/// The topics `consumer` reads.
fn inputs_of(consumer: Consumer) -> Vec<String> {
    consumer.inputs().iter().map(|t| t.name.to_owned()).collect()
}

/// Counts this process's metrics, and serves `GET /metrics` on `addr`
/// when set: a listener of its own, never the public API's, with the
/// gateway's limits on connections, header reads and head size.
async fn start_metrics(
    roles: &mut Roles,
    addr: Option<std::net::SocketAddr>,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let metrics = install_metrics()?;
    let Some(addr) = addr else {
        return Ok(());
    };
    let listener = imagegram_ingest::bind(&addr.to_string())
        .await
        .with_context(|| format!("metrics on {addr} (--metrics-listen; `off` turns them off)"))?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "metrics listening");
    imagegram_platform::telemetry::announce(&format!("imagegram metrics on http://{local}/metrics"));
    let stop = shutdown.token();
    roles.spawn(async move {
        // A scraper or two, not the public: a few connections suffice.
        let limits = imagegram_ingest::ConnectionLimits {
            max_connections: 64,
            ..imagegram_ingest::ConnectionLimits::default()
        };
        Ok(imagegram_ingest::serve_router(listener, metrics.router(), limits, stop).await?)
    });
    Ok(())
}

async fn start_gateway(
    roles: &mut Roles,
    cli: &Cli,
    http: &HttpSettings,
    log: Arc<dyn EventLog>,
    stores: ReadStores,
    blobs: Arc<dyn BlobStore>,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let secret = imagegram_ingest::load_or_create_secret(http.jwt_secret.as_deref(), &cli.common.data_dir)?;
    let ports = Ports { log, stores, blobs };
    let mut settings = GatewaySettings::new(secret);
    settings.identity = http.identity();
    settings.connections = http.connection_limits();
    settings.rates = http.rate_settings();
    settings.quotas = http.quotas();
    settings.advertise = http.advertise_url.clone().filter(|u| !u.is_empty());
    settings.feed_memory = http.feed_memory_mib.max(3).saturating_mul(1 << 20);
    settings.dev_sign_in = http.dev_sign_in;
    let gateway = Gateway::build(ports, settings, shutdown.token()).await?;
    let listener = imagegram_ingest::bind(&http.listen).await?;
    let local = listener.local_addr()?;
    gateway.may_listen_on(local)?;
    tracing::info!(%local, "ingest gateway listening");
    // Where `imagegram rebuild` finds this server when it holds the embedded log.
    if let Err(e) = std::fs::write(
        crate::server::address_file(&cli.common.data_dir),
        local.to_string(),
    ) {
        tracing::warn!(error = %e, "could not record the listening address in the data dir");
    }
    imagegram_platform::telemetry::announce(&format!("imagegram listening on http://{local}"));
    let stop = shutdown.token();
    roles.spawn(async move { Ok(gateway.serve(listener, stop).await?) });
    Ok(())
}
