//! Opening the event log with every topic in place.

use std::sync::Arc;

use imagegram_eventlog::{EventLog, TopicSpec};
use imagegram_schemas::topics;

use crate::settings::{CommonSettings, LogSettings};
use crate::PlatformError;

/// Every topic Imagegram uses, as the log port wants them.
pub fn specs() -> Vec<TopicSpec> {
    topics::all()
        .into_iter()
        .map(|t| TopicSpec::new(t.name, t.partitions))
        .collect()
}

/// Opens the configured log and creates the topics it lacks.
pub async fn open_log(
    common: &CommonSettings,
    log: &LogSettings,
    client_id: &str,
) -> Result<Arc<dyn EventLog>, PlatformError> {
    let log = imagegram_eventlog::Metered::wrap(imagegram_eventlog::Namespaced::wrap(
        imagegram_eventlog::open(&log.config(common, client_id)?)?,
        &log.topic_prefix,
    ));
    log.create_topics(&specs()).await?;
    tracing::info!(backend = log.backend(), topics = specs().len(), "event log ready");
    Ok(log)
}
