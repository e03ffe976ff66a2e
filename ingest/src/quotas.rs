//! Quotas: how much a user may hold open or post, and how long request
//! records are kept. Open resumable uploads per user; bytes of originals
//! per user per UTC day; idempotency keys and processed marks pruned after
//! their retention. Each is a setting.

use std::time::Duration;

use axum::http::StatusCode;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;
use crate::Problem;

/// The quotas of one gateway; 0 turns a count or size quota off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Resumable uploads a user may have open (not posted, not expired).
    pub open_uploads: u64,
    /// Bytes of originals a user may post in a UTC day.
    pub daily_bytes: u64,
    /// How long an idempotency key answers retries.
    pub idempotency_retention: Duration,
    /// How long a processed-event mark is kept.
    pub processed_retention: Duration,
    /// How old a blob nothing refers to (a staged image, a chunk of a gone
    /// upload) or an unfinished write must be before it is swept.
    pub orphan_age: Duration,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            open_uploads: 20,
            daily_bytes: 1 << 30,
            idempotency_retention: Duration::from_secs(24 * 3600),
            processed_retention: Duration::from_secs(7 * 24 * 3600),
            orphan_age: Duration::from_secs(3600),
        }
    }
}

const DAY_US: i64 = 86_400_000_000;

/// Today, in days since 1970-01-01 (UTC).
pub fn today() -> i64 {
    imagegram_schemas::now_us().div_euclid(DAY_US)
}

/// Refuses a new upload if `user` already has their quota of open ones.
pub async fn check_open_uploads(state: &AppState, user: &str) -> Result<(), Problem> {
    let most = state.quotas.open_uploads;
    if most == 0 {
        return Ok(());
    }
    let open = state
        .uploads
        .open_uploads(Some(user), imagegram_schemas::now_us())
        .await?;
    if open >= most {
        return Err(Problem::client(
            StatusCode::TOO_MANY_REQUESTS,
            "upload-quota",
            format!("you have {open} unfinished uploads, the most allowed; finish or delete one first"),
        ));
    }
    Ok(())
}

/// Refuses an upload of `incoming` more bytes (0 when not known yet) if
/// `user` would pass today's quota.
pub async fn check_daily_bytes(state: &AppState, user: &str, incoming: u64) -> Result<(), Problem> {
    let most = state.quotas.daily_bytes;
    if most == 0 {
        return Ok(());
    }
    let used = state.requests.daily_bytes(user, today()).await?;
    if used >= most || used.saturating_add(incoming) > most {
        return Err(Problem::client(
            StatusCode::TOO_MANY_REQUESTS,
            "daily-quota",
            format!("{used} of today's {most} bytes of images are used; this upload does not fit"),
        )
        .retry_after(seconds_to_midnight()));
    }
    Ok(())
}

/// Counts a posted original's bytes against `user`'s day. A failure only
/// loses the count, never the post.
pub async fn record_bytes(state: &AppState, user: &str, bytes: u64) {
    if let Err(e) = state.requests.add_daily_bytes(user, today(), bytes).await {
        tracing::warn!(error = %e, "could not count an upload against its daily quota");
    }
}

fn seconds_to_midnight() -> u32 {
    let into_day = imagegram_schemas::now_us().rem_euclid(DAY_US);
    u32::try_from((DAY_US - into_day) / 1_000_000).unwrap_or(1).max(1)
}

/// Every ten minutes, forgets idempotency keys and processed marks past
/// their retention, until `stop`.
pub fn start_pruning(state: AppState, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = every.tick() => prune(&state).await,
            }
        }
    });
}

async fn prune(state: &AppState) {
    let now = imagegram_schemas::now_us();
    let before = |retention: Duration| now - i64::try_from(retention.as_micros()).unwrap_or(i64::MAX / 2);
    match state
        .keys
        .prune_requests(before(state.quotas.idempotency_retention))
        .await
    {
        Ok(n) if n > 0 => tracing::info!(pruned = n, "idempotency keys past their retention"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
    }
    match state
        .requests
        .prune_processed(before(state.quotas.processed_retention))
        .await
    {
        Ok(n) if n > 0 => tracing::info!(pruned = n, "processed marks past their retention"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "pruning processed marks failed"),
    }
}
