//! Waiting on a condition, never on a sleep: [`eventually`] polls until
//! the check gives a value, and fails at its deadline saying what never
//! happened. Deadlines are generous (minutes on two shared cores); how long
//! things took belongs in printed measurements and benchmarks, not here.

use std::future::Future;
use std::time::{Duration, Instant};

/// The first pause between checks; it doubles up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_millis(500);

/// Runs `check` until it answers `Ok(value)`, pausing between tries (10
/// ms, doubling to 500 ms); panics with "`what` did not happen within
/// `patience`" and the last `Err(note)` (what the check saw) once the
/// deadline passes.
pub async fn eventually<T, F, Fut>(patience: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + patience;
    let mut pause = FIRST_PAUSE;
    loop {
        let note = match check().await {
            Ok(value) => return value,
            Err(note) => note,
        };
        if Instant::now() >= deadline {
            panic!("{what} did not happen within {patience:?} (last seen: {note})");
        }
        tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// [`eventually`] for tests without a runtime: the same, blocking.
pub fn eventually_blocking<T>(
    patience: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + patience;
    let mut pause = FIRST_PAUSE;
    loop {
        let note = match check() {
            Ok(value) => return value,
            Err(note) => note,
        };
        if Instant::now() >= deadline {
            panic!("{what} did not happen within {patience:?} (last seen: {note})");
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn it_returns_what_the_check_found() {
        let tries = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&tries);
        let found = eventually(Duration::from_secs(10), "the third try", move || {
            let counted = Arc::clone(&counted);
            async move {
                let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                if n == 3 {
                    Ok(n)
                } else {
                    Err(format!("try {n}"))
                }
            }
        })
        .await;
        assert_eq!(found, 3);
        assert_eq!(tries.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    #[should_panic(expected = "the impossible did not happen within 50ms (last seen: never)")]
    async fn it_fails_at_the_deadline_saying_what_never_happened() {
        eventually(Duration::from_millis(50), "the impossible", || async {
            Err::<(), _>("never".to_owned())
        })
        .await;
    }

    #[test]
    fn the_blocking_form_waits_too() {
        let mut n = 0;
        let found = eventually_blocking(Duration::from_secs(10), "the second try", || {
            n += 1;
            if n == 2 {
                Ok(n)
            } else {
                Err(String::new())
            }
        });
        assert_eq!(found, 2);
    }
}
