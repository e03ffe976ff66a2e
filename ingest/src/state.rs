//! What every handler can reach: the ports, the auth, the feed and the
//! notifications, shared by all requests. The bottom of the crate: it
//! imports no handler.

use std::sync::Arc;

use axum::extract::FromRef;
use imagegram_blobstore::BlobStore;
use imagegram_eventlog::EventLog;
use imagegram_readstore::{IdempotencyKeys, ReadModel, RequestRecords, UploadSessions};
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;
use crate::feed::cursor::CursorSigner;
use crate::feed::pages::AnsweredPages;
use crate::feed::peers::Peers;
use crate::feed::rendered::RenderedItems;
use crate::health::Probes;
use crate::notifications::Notifications;
use crate::quotas::Quotas;
use crate::rate_limit::RateLimits;

/// What every handler can reach, behind one `Arc`: axum clones the state
/// for every extractor and every `from_fn_with_state` layer a request
/// passes, and a clone of twenty fields (most of them `Arc`s, two moka
/// caches, a cancellation token) was a third of a feed read's CPU on two
/// cores, its atomic counts bouncing between them.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The fields of [`AppState`].
pub struct Shared {
    pub log: Arc<dyn EventLog>,
    pub blobs: Arc<dyn BlobStore>,
    /// The read tables (posts, comments, feed, projection positions).
    pub read_model: Arc<dyn ReadModel>,
    /// Idempotency keys.
    pub keys: Arc<dyn IdempotencyKeys>,
    /// Daily upload bytes (a quota).
    pub requests: Arc<dyn RequestRecords>,
    /// This gateway's keyed requests: claims held, recent answers.
    pub keyed: crate::idempotency::KeyedRequests,
    /// Resumable uploads' state.
    pub uploads: Arc<dyn UploadSessions>,
    /// One writer at a time per upload written in place (see `tus/turns.rs`).
    pub upload_turns: crate::tus::UploadTurns,
    pub auth: Auth,
    /// Per-user and per-address token buckets.
    pub limits: RateLimits,
    pub quotas: Quotas,
    pub notifications: Arc<Notifications>,
    /// The feed's ranking, snapshots and post cache, fresh from the log.
    pub feed: Arc<imagegram_projections::feed::Feed>,
    pub cursors: CursorSigner,
    /// The other gateways: where each is, forwarding pages of their snapshots.
    pub peers: Peers,
    /// Each post's feed JSON by (id, version): rendered once per change.
    pub rendered: RenderedItems,
    /// Feed pages as answered, by feed version, compressed once each.
    pub pages: AnsweredPages,
    /// This process's id, named in its cursors (snapshots live in memory).
    pub instance: u64,
    /// Cancelled at shutdown: long-lived responses (event streams) end.
    pub shutdown: CancellationToken,
    pub probes: Probes,
    /// Whether `POST /v1/dev/sign-in` hands out tokens (loopback only).
    pub dev_sign_in: bool,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Auth {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Probes {
    fn from_ref(state: &AppState) -> Probes {
        Arc::clone(&state.probes)
    }
}
