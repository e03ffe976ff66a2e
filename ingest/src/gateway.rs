//! [`Gateway::build`]: the gateway assembled from its ports and settings.
//! The binary serves it; tests drive its router in-process.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use imagegram_blobstore::BlobStore;
use imagegram_eventlog::EventLog;
use imagegram_readstore::ReadStores;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{Auth, IdentityProvider};
use crate::connections::ConnectionLimits;
use crate::feed::{CursorSigner, RenderedItems};
use crate::health::{BlobProbe, LogProbe, Probe, StoreProbe};
use crate::notifications::Notifications;
use crate::quotas::Quotas;
use crate::rate_limit::{RateLimits, RateSettings};
use crate::state::AppState;
use crate::IngestError;

/// What the gateway reads from and writes to.
pub struct Ports {
    pub log: Arc<dyn EventLog>,
    pub stores: ReadStores,
    pub blobs: Arc<dyn BlobStore>,
}

/// How the gateway behaves.
pub struct GatewaySettings {
    /// Signs bearer tokens and feed cursors; every gateway shares it.
    pub secret: Vec<u8>,
    /// How often expired resumable uploads are swept.
    pub sweep_every: Duration,
    /// An identity provider whose RS256/ES256 tokens are accepted too.
    pub identity: Option<IdentityProvider>,
    /// What bounds each connection and the number open.
    pub connections: ConnectionLimits,
    /// Requests a minute per user (writes) and per address (anonymous reads).
    pub rates: RateSettings,
    pub quotas: Quotas,
}

impl GatewaySettings {
    pub fn new(secret: Vec<u8>) -> Self {
        GatewaySettings {
            secret,
            sweep_every: Duration::from_secs(60),
            identity: None,
            connections: ConnectionLimits::default(),
            rates: RateSettings::default(),
            quotas: Quotas::default(),
        }
    }
}

/// A gateway ready to serve: its log followers and sweep are running.
pub struct Gateway {
    state: AppState,
    connections: ConnectionLimits,
}

impl Gateway {
    /// Starts the gateway's followers of the log (notifications, the feed)
    /// and its upload sweep, all ending when `stop` is cancelled.
    pub async fn build(
        ports: Ports,
        settings: GatewaySettings,
        stop: CancellationToken,
    ) -> Result<Self, IngestError> {
        let Ports { log, stores, blobs } = ports;
        let ReadStores {
            model,
            requests,
            uploads,
        } = stores;
        let auth = Auth::new(&settings.secret, settings.identity.as_ref()).await?;
        let notifications = Notifications::follow(Arc::clone(&log), Arc::clone(&model), stop.clone()).await?;
        let probes: Vec<Box<dyn Probe>> = vec![
            Box::new(LogProbe(Arc::clone(&log))),
            Box::new(StoreProbe(Arc::clone(&model))),
            Box::new(BlobProbe(Arc::clone(&blobs))),
        ];
        crate::tus::start_sweep(
            Arc::clone(&uploads),
            Arc::clone(&blobs),
            settings.sweep_every,
            stop.clone(),
        );
        let limits = RateLimits::new(settings.rates);
        forget_idle_clients(limits.clone(), stop.clone());
        let feed =
            imagegram_projections::feed::start(Arc::clone(&model), Arc::clone(&log), stop.clone()).await?;
        let state = AppState {
            log,
            blobs,
            read_model: model,
            requests,
            uploads,
            auth,
            limits,
            quotas: settings.quotas,
            cursors: CursorSigner::new(&settings.secret),
            rendered: RenderedItems::new(100_000),
            instance: instance_id(),
            feed,
            notifications,
            shutdown: stop,
            probes: Arc::new(probes),
        };
        crate::quotas::start_pruning(state.clone(), state.shutdown.clone());
        crate::orphans::start(state.clone(), state.shutdown.clone());
        Ok(Gateway {
            state,
            connections: settings.connections,
        })
    }

    /// Every route, with its middleware.
    pub fn router(&self) -> Router {
        crate::server::router(self.state.clone(), self.connections.body_idle_timeout)
    }

    /// Serves on `listener` until `stop` is cancelled, then drains.
    pub async fn serve(&self, listener: TcpListener, stop: CancellationToken) -> Result<(), IngestError> {
        crate::connections::serve(listener, self.router(), self.connections, stop).await
    }

    /// Sweeps orphaned blobs and abandoned writes now (it also runs every
    /// ten minutes); how many it removed.
    pub async fn sweep_orphans(&self) -> u64 {
        crate::orphans::sweep(&self.state).await
    }

    /// The tokens this gateway accepts.
    pub fn auth(&self) -> &Auth {
        &self.state.auth
    }
}

/// This process's id in feed cursors: unlikely to repeat across restarts.
fn instance_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Every minute, drops the buckets of clients that are full again.
fn forget_idle_clients(limits: RateLimits, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => limits.forget_idle(),
            }
        }
    });
}
