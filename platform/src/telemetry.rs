//! Logs and spans through `tracing`, to stderr.

use tracing_subscriber::EnvFilter;

use crate::settings::{CommonSettings, LogFormat};
use crate::PlatformError;

/// Installs the global subscriber. Call once, first thing in `main`.
pub fn init(settings: &CommonSettings) -> Result<(), PlatformError> {
    let filter =
        EnvFilter::try_new(&settings.log_filter).map_err(|e| PlatformError::Telemetry(e.to_string()))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match settings.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| PlatformError::Telemetry(e.to_string()))
}
