//! [`Gateway::build`]: the gateway assembled from its ports and settings.
//! The binary serves it; tests drive its router in-process.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use imagegram_blobstore::BlobStore;
use imagegram_eventlog::EventLog;
use imagegram_projections::feed::FeedMemory;
use imagegram_readstore::ReadStores;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{Auth, IdentityProvider};
use crate::connections::ConnectionLimits;
use crate::feed::{CursorSigner, Peers, RenderedItems};
use crate::health::{BlobProbe, LogProbe, Probe, StoreProbe};
use crate::notifications::Notifications;
use crate::quotas::Quotas;
use crate::rate_limit::{RateLimits, RateSettings};
use crate::state::AppState;
use crate::IngestError;

/// Room for answered feed pages: about 200 pages of 20 (12 KB each, with
/// their compressed forms).
const ANSWERED_PAGES_BYTES: u64 = 4 * 1024 * 1024;
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
    /// Bytes the feed's caches may hold: a third each for ranking
    /// snapshots, post views and rendered items.
    pub feed_memory: u64,
    /// The base URL other gateways reach this one at (`http://host:port`),
    /// announced in the gateway directory so they can forward pages of
    /// this one's feed snapshots. Unset: the listening address, unless
    /// that is a wildcard (0.0.0.0, ::), when no one can forward here.
    pub advertise: Option<String>,
    /// Development sign-in: a token for any name. Only for a gateway on
    /// loopback; [`Gateway::serve`] refuses it on any other address.
    pub dev_sign_in: bool,
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
            advertise: None,
            feed_memory: 384 << 20,
            dev_sign_in: false,
        }
    }
}

/// A gateway ready to serve: its log followers and sweep are running.
pub struct Gateway {
    state: AppState,
    connections: ConnectionLimits,
    advertise: Option<String>,
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
            keys,
            requests,
            uploads,
            gateways,
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
        crate::metrics::describe();
        crate::metrics::count_open_uploads(Arc::clone(&uploads), stop.clone());
        let limits = RateLimits::new(settings.rates);
        forget_idle_clients(limits.clone(), stop.clone());
        let third = settings.feed_memory / 3;
        let memory = FeedMemory {
            snapshots: third,
            posts: third,
        };
        let feed =
            imagegram_projections::feed::start(Arc::clone(&model), Arc::clone(&log), memory, stop.clone())
                .await?;
        let state = AppState::new(crate::state::Shared {
            log,
            blobs,
            read_model: model,
            keys,
            requests,
            keyed: crate::idempotency::KeyedRequests::new(),
            upload_turns: crate::tus::UploadTurns::default(),
            uploads,
            auth,
            limits,
            quotas: settings.quotas,
            cursors: CursorSigner::new(&settings.secret),
            peers: Peers::new(gateways, &settings.secret)?,
            rendered: RenderedItems::new(third),
            pages: crate::feed::pages::AnsweredPages::new(ANSWERED_PAGES_BYTES),
            instance: instance_id(),
            feed,
            notifications,
            shutdown: stop,
            probes: Arc::new(probes),
            dev_sign_in: settings.dev_sign_in,
        });
        state
            .keyed
            .record_every(Arc::clone(&state.keys), state.shutdown.clone());
        crate::quotas::start_pruning(state.clone(), state.shutdown.clone());
        crate::orphans::start(state.clone(), state.shutdown.clone());
        Ok(Gateway {
            state,
            connections: settings.connections,
            advertise: settings.advertise,
        })
    }

    /// Every route, with its middleware.
    pub fn router(&self) -> Router {
        crate::server::router(self.state.clone(), self.connections.body_idle_timeout)
    }

    /// Serves on `listener` until `stop` is cancelled, then drains. While
    /// it serves, it is announced in the gateway directory.
    pub async fn serve(&self, listener: TcpListener, stop: CancellationToken) -> Result<(), IngestError> {
        let local = listener.local_addr().ok();
        if let Some(local) = local {
            self.may_listen_on(local)?;
        }
        match self.advertise.clone().or_else(|| local.and_then(reachable_url)) {
            Some(address) => {
                let peers = self.state.peers.clone();
                peers.announce(self.state.instance, address, stop.clone()).await;
            }
            None => tracing::warn!(
                "listening on a wildcard address without --advertise-url: other gateways \
                 cannot forward pages of this one's feed snapshots, so its cursors work only here"
            ),
        }
        let served = crate::connections::serve(listener, self.router(), self.connections, stop).await;
        // The drain is over: no answer comes after these.
        self.state.keyed.record(&*self.state.keys).await;
        served
    }

    /// Whether this gateway may serve on `local`: with development
    /// sign-in, only on loopback.
    pub fn may_listen_on(&self, local: std::net::SocketAddr) -> Result<(), IngestError> {
        if self.state.dev_sign_in && !local.ip().is_loopback() {
            return Err(IngestError::DevSignInExposed);
        }
        Ok(())
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

/// This process's id in feed cursors and the gateway directory: random,
/// so it does not repeat across restarts or machines.
fn instance_id() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

/// `http://addr` for a listening address others can dial: not a wildcard.
fn reachable_url(addr: std::net::SocketAddr) -> Option<String> {
    (!addr.ip().is_unspecified()).then(|| format!("http://{addr}"))
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
