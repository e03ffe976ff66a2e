//! Liveness and readiness.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use imagegram_eventlog::EventLog;
use serde_json::{json, Value};

/// What `/readyz` checks, shared by every request.
pub type Probes = Arc<Vec<Box<dyn Probe>>>;

/// Something `/readyz` checks.
#[async_trait]
pub trait Probe: Send + Sync {
    fn name(&self) -> &'static str;
    async fn check(&self) -> Result<(), String>;
}

/// The event log as a readiness probe.
pub struct LogProbe(pub Arc<dyn EventLog>);

#[async_trait]
impl Probe for LogProbe {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.check().await.map_err(|e| e.to_string())
    }
}

/// The read store as a readiness probe.
pub struct StoreProbe(pub Arc<dyn imagegram_readstore::ReadModel>);

#[async_trait]
impl Probe for StoreProbe {
    fn name(&self) -> &'static str {
        "read_store"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.check().await.map_err(|e| e.to_string())
    }
}

/// The blob store as a readiness probe.
pub struct BlobProbe(pub Arc<dyn imagegram_blobstore::BlobStore>);

#[async_trait]
impl Probe for BlobProbe {
    fn name(&self) -> &'static str {
        "blob_store"
    }

    async fn check(&self) -> Result<(), String> {
        self.0.check().await.map_err(|e| e.to_string())
    }
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "up")))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The log, read store and blob store answer.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "ready"), (status = 503, description = "a dependency is unavailable")))]
///
/// 200 when every probe answers, 503 naming the ones that do not. Failure
/// causes go to the log, not to the caller.
pub(crate) async fn readyz(State(probes): State<Probes>) -> (StatusCode, Json<Value>) {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    for probe in probes.iter() {
        let outcome = match probe.check().await {
            Ok(()) => "ok",
            Err(cause) => {
                tracing::warn!(probe = probe.name(), %cause, "readiness check failed");
                ready = false;
                "unavailable"
            }
        };
        checks.insert(probe.name().to_owned(), json!(outcome));
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"status": if ready { "ready" } else { "unavailable" }, "checks": checks})),
    )
}
