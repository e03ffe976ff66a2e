//! Graceful shutdown: the first SIGTERM or SIGINT cancels a token every role
//! watches (stop taking work, finish what is in hand, save positions); if
//! that has not finished within the grace period the process exits anyway.

use std::io::Write;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::PlatformError;

/// A handle every role holds to learn that it should stop.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Cancels on the first SIGTERM or SIGINT, and exits the process with
    /// status 1 if still alive `grace` later.
    pub fn on_signals(&self, grace: Duration) -> Result<(), PlatformError> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let token = self.token.clone();
        tokio::spawn(async move {
            let which = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = which, grace_secs = grace.as_secs(), "shutting down");
            token.cancel();
            std::thread::spawn(move || {
                std::thread::sleep(grace);
                // Not eprintln!: it panics when stderr cannot be written.
                let _ = writeln!(
                    std::io::stderr(),
                    "imagegram: shutdown took longer than {}s, exiting",
                    grace.as_secs()
                );
                std::process::exit(1);
            });
        });
        Ok(())
    }

    /// Starts a shutdown from inside (a role failed, or a test is done).
    pub fn trigger(&self) {
        self.token.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once shutdown has begun.
    pub async fn wait(&self) {
        self.token.cancelled().await
    }

    /// A token for libraries that take one (axum's graceful shutdown).
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }
}
