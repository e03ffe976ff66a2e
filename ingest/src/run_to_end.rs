//! A future that runs to its end even if the request awaiting it is
//! dropped (its client left): polled in place while the request waits, and
//! handed to the runtime to finish on its own if the request goes first.
//!
//! Keyed requests need this: a claim taken must be answered or released.
//! They used to spawn a task and await it; the spawned task often woke on
//! the other worker thread and woke the request back at its end, and
//! with one client at a time that was a tenth of a keyed write's time.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type Work<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// `work`, polled in place, finished in the background if dropped unfinished.
pub struct RunToEnd<T: Send + 'static> {
    work: Option<Work<T>>,
}

impl<T: Send + 'static> RunToEnd<T> {
    pub fn new(work: impl Future<Output = T> + Send + 'static) -> Self {
        RunToEnd {
            work: Some(Box::pin(work)),
        }
    }
}

impl<T: Send + 'static> Future for RunToEnd<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let Some(work) = self.work.as_mut() else {
            return Poll::Pending; // polled after it ended: never again ready
        };
        let done = work.as_mut().poll(cx);
        if done.is_ready() {
            self.work = None;
        }
        done
    }
}

impl<T: Send + 'static> Drop for RunToEnd<T> {
    fn drop(&mut self) {
        if let Some(rest) = self.work.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn(rest)),
                // No runtime left to run it: the process is ending, and a
                // claim left behind runs out with its lease.
                Err(_) => tracing::warn!("a keyed request's work was cut off at shutdown"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn work_left_by_its_caller_still_ends() {
        let ended = Arc::new(AtomicBool::new(false));
        let work = {
            let ended = Arc::clone(&ended);
            RunToEnd::new(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                ended.store(true, Ordering::SeqCst);
            })
        };
        // The caller gives up long before the work is done.
        assert!(tokio::time::timeout(Duration::from_millis(1), work)
            .await
            .is_err());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(ended.load(Ordering::SeqCst), "finished on its own");
    }

    #[tokio::test]
    async fn work_awaited_gives_its_output() {
        assert_eq!(RunToEnd::new(async { 7 }).await, 7);
    }
}
