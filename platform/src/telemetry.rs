//! Logs and spans through `tracing`, to stderr, written so that the output
//! can never stop the server. Lines go through a bounded queue to a thread
//! of their own (tracing-appender's non-blocking writer, lossy): a request
//! never waits on a slow or stopped terminal, and when the queue is full a
//! line is dropped. A line that cannot be written (a full disk, a pipe
//! whose reader has gone) is dropped too. Both are counted
//! ([`dropped_lines`], the metric `imagegram_log_lines_dropped_total`),
//! and nothing panics: `println!` would, and so would tracing-subscriber's
//! own report of a failed write, which goes through `eprintln!`.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::settings::{CommonSettings, LogFormat};
use crate::PlatformError;

/// Lines the queue holds while the writer is behind (a few MiB at most).
const QUEUED_LINES: usize = 8_192;

/// Lines dropped because the queue was full.
static QUEUE_FULL: OnceLock<ErrorCounter> = OnceLock::new();
/// Lines (and announcements) that could not be written.
static WRITE_FAILED: AtomicU64 = AtomicU64::new(0);

/// Lines dropped so far: (queue full, write failed).
pub fn dropped_lines() -> (u64, u64) {
    let full = QUEUE_FULL
        .get()
        .map_or(0, |counter| counter.dropped_lines() as u64);
    (full, WRITE_FAILED.load(Ordering::Relaxed))
}

/// Keep it until the process ends: dropping it writes out what is queued.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard(#[allow(dead_code)] WorkerGuard);

/// stderr, where a failed write drops the line and counts it instead of
/// failing the writer.
struct LossyStderr;

impl Write for LossyStderr {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        if std::io::stderr().write_all(line).is_err() {
            WRITE_FAILED.fetch_add(1, Ordering::Relaxed);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Installs the global subscriber. Call once, first thing in `main`, and
/// keep the guard.
pub fn init(settings: &CommonSettings) -> Result<LogGuard, PlatformError> {
    let filter =
        EnvFilter::try_new(&settings.log_filter).map_err(|e| PlatformError::Telemetry(e.to_string()))?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("imagegram-log")
        .finish(LossyStderr);
    let _ = QUEUE_FULL.set(writer.error_counter());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .log_internal_errors(false);
    let installed = match settings.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| PlatformError::Telemetry(e.to_string()))?;
    Ok(LogGuard(guard))
}

/// Writes one line to stdout (the address a server listens on, for the
/// scripts that start it), never panicking: a line that cannot be written
/// is counted with the dropped log lines.
pub fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        WRITE_FAILED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Describes `imagegram_log_lines_dropped_total` and keeps it current.
/// Call inside the runtime, once the metrics recorder is installed.
pub(crate) fn count_dropped_lines() {
    metrics::describe_counter!(
        "imagegram_log_lines_dropped_total",
        "Log lines dropped rather than stop the server: `reason` is queue_full (the output was too slow) or write_failed (a full disk, a closed pipe)."
    );
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            let (full, failed) = dropped_lines();
            metrics::counter!("imagegram_log_lines_dropped_total", "reason" => "queue_full").absolute(full);
            metrics::counter!("imagegram_log_lines_dropped_total", "reason" => "write_failed")
                .absolute(failed);
        }
    });
}
