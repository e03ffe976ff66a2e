//! Liveness and readiness.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use imagegram_eventlog::EventLog;
use serde_json::{json, Value};

/// The most `/readyz` waits for one dependency.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

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
    responses((status = 200, description = "ready: `{status, checks}`, each check `ok`"),
        (status = 503, description = "a dependency is unavailable: a problem whose `checks` member names each dependency `ok` or `unavailable`", content_type = "application/problem+json")))]
///
/// 200 when every probe answers, 503 naming the ones that do not. The
/// probes run together, each given [`PROBE_TIMEOUT`], so a dependency that
/// hangs instead of refusing is named too, and promptly. Failure causes go
/// to the log, not to the caller.
pub(crate) async fn readyz(State(probes): State<Probes>) -> Response {
    let outcomes = futures::future::join_all(probes.iter().map(|probe| async move {
        let outcome = tokio::time::timeout(PROBE_TIMEOUT, probe.check())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {PROBE_TIMEOUT:?}")));
        (probe.name(), outcome)
    }))
    .await;
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    for (name, outcome) in outcomes {
        let outcome = match outcome {
            Ok(()) => "ok",
            Err(cause) => {
                tracing::warn!(probe = name, %cause, "readiness check failed");
                ready = false;
                "unavailable"
            }
        };
        checks.insert(name.to_owned(), json!(outcome));
    }
    if ready {
        return (StatusCode::OK, Json(json!({"status": "ready", "checks": checks}))).into_response();
    }
    // An error answer, so a problem (RFC 9457) with the checks as an
    // extension member: which dependency is down, never why.
    let down: Vec<&str> = checks
        .iter()
        .filter(|(_, outcome)| *outcome != "ok")
        .map(|(name, _)| name.as_str())
        .collect();
    let body = json!({
        "type": "https://imagegram.dev/problems/not-ready",
        "title": "Service Unavailable",
        "status": 503,
        "detail": format!("unavailable: {}", down.join(", ")),
        "checks": checks,
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "application/problem+json"),
            (header::RETRY_AFTER, "1"),
        ],
        body.to_string(),
    )
        .into_response()
}
