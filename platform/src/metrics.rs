//! Prometheus metrics. Every crate records through the `metrics` facade
//! (`metrics::counter!` and friends, each crate's names in its own
//! `metrics.rs`); this installs the one process-wide recorder they land in
//! and renders it in the Prometheus text exposition format, for the
//! gateway's `GET /metrics` and for `--metrics-listen` on the other roles.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::PlatformError;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Seconds: from half a millisecond (a feed page, an append to the
/// embedded log) to a minute (the longest conversion allowed).
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Bytes: from a 1 KiB thumbnail to a 100 MB original.
const BYTES: &[f64] = &[
    1024.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
    134_217_728.0,
];
/// Counts of records: a projector batch.
const RECORDS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// The recorder of this process, installed once.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// What this build is, for `imagegram_build_info`.
#[derive(Debug, Clone, Copy)]
pub struct BuildInfo {
    pub version: &'static str,
    pub commit: &'static str,
}

/// The process's metrics, rendered on demand.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Installs the recorder (the first call; later ones share it), with
    /// histogram buckets by the unit a name ends in, and sets the build
    /// info. Call inside the runtime: a task keeps the histograms trimmed.
    pub fn install(build: BuildInfo) -> Result<Metrics, PlatformError> {
        let handle = match HANDLE.get() {
            Some(handle) => handle.clone(),
            None => {
                let recorder = PrometheusBuilder::new()
                    .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
                    .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_bytes".into()), BYTES))
                    .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_records".into()), RECORDS))
                    .map_err(|e| PlatformError::Telemetry(format!("metric buckets: {e}")))?
                    .build_recorder();
                let handle = recorder.handle();
                metrics::set_global_recorder(recorder)
                    .map_err(|e| PlatformError::Telemetry(format!("the metrics recorder: {e}")))?;
                let _ = HANDLE.set(handle.clone());
                crate::telemetry::count_dropped_lines();
                let upkeep = handle.clone();
                tokio::spawn(async move {
                    let mut every = tokio::time::interval(Duration::from_secs(5));
                    loop {
                        every.tick().await;
                        upkeep.run_upkeep();
                    }
                });
                handle
            }
        };
        metrics::describe_gauge!(
            "imagegram_build_info",
            "Always 1; the labels name the version and git commit."
        );
        metrics::gauge!("imagegram_build_info", "version" => build.version, "commit" => build.commit)
            .set(1.0);
        Ok(Metrics { handle })
    }

    /// Every metric, in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// A router answering `GET /metrics`.
    pub fn router(&self) -> Router {
        let metrics = self.clone();
        Router::new().route(
            "/metrics",
            get(move || {
                let body = metrics.render();
                async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response() }
            }),
        )
    }
}
