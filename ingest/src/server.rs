//! The HTTP server: routes, middleware, graceful drain.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::health::{healthz, readyz, Probe};
use crate::IngestError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub probes: Arc<Vec<Box<dyn Probe>>>,
}

/// Every route of the gateway.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Binds the gateway's address (port 0 picks a free one).
pub async fn bind(addr: &str) -> Result<TcpListener, IngestError> {
    TcpListener::bind(addr).await.map_err(|source| IngestError::Bind {
        addr: addr.to_owned(),
        source,
    })
}

/// Serves until `stop` is cancelled; then stops accepting and lets requests
/// in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
) -> Result<(), IngestError> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
        .map_err(IngestError::Serve)
}
