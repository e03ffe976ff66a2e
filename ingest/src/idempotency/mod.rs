//! `Idempotency-Key`: a retry with the same key by the same user gets the
//! same answer and adds nothing; the same key with another body gets 422.
//! Ids are derived from (user, key), so a retry that reaches another gateway
//! instance names the same post or comment, and the log's consumers drop
//! the repeat.
//!
//! [`run_once`] is the one guard every keyed route goes through: it claims
//! the key, runs the request's work so that it ends even if the request is
//! dropped ([`RunToEnd`](crate::run_to_end::RunToEnd): a client that
//! leaves mid-request cannot stop it half-way), holds the
//! claim while the work runs (every held claim's lease is renewed together,
//! every third of a lease), then records the answer or, if the work
//! failed, frees the key. A gateway that dies mid-request leaves a
//! claim whose lease runs out, and the client's retry takes it over.
//!
//! The claim is decided first and stored while the work runs, where the
//! store allows it (the embedded mode's keys: one process decides them
//! all, in memory); the client hears once both are stored. A crash in
//! between leaves the work's event without its claim, which is the case
//! below: a retry derives the same ids.
//!
//! The answer is recorded after the client has it, not before: waiting
//! for that write (another commit of the read database) doubled a keyed
//! request's time. Answers are recorded together, every
//! [`RECORD_EVERY`], and at the end of the drain on shutdown; until the
//! store has them, this gateway answers retries from its memory of
//! answers not yet recorded ([`KeyedRequests`]), and from then on the
//! store does. If the gateway dies first, the claim's lease runs out and a
//! retry runs the work again; the ids it derives from the key are the
//! same, so the log's consumers drop the repeat and the answer names the
//! same post or comment.
//!
//! ## Layout
//! - `mod.rs`: the key and the request's digest from a request, and
//!   [`run_once`], the guard.
//! - `answer.rs`: an answer as stored and replayed, and what an earlier
//!   request with the key decides ([`Earlier`]).
//! - `keyed.rs`: this gateway's memory ([`KeyedRequests`]): the claims
//!   its work holds (their leases renewed together) and the answers not
//!   yet recorded (recorded together).

mod answer;
mod keyed;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use futures::FutureExt;
use imagegram_readstore::{Claim, IdempotencyKeys};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::{IngestError, Problem};

pub use answer::{Earlier, Guarded, Stored};
pub use keyed::KeyedRequests;

/// How long a claim holds without being renewed (it is renewed every
/// third of it while the work runs): after a gateway dies mid-request, its
/// keys answer 409 for at most this long. It was 30 s; the kill -9 test
/// showed a client stalled that long behind one key.
pub const LEASE: Duration = Duration::from_secs(10);

/// How often answers are recorded: one store write for all of them. One
/// write (a task, a commit's share and a wake-up) for each keyed request
/// was a tenth of its CPU time.
pub const RECORD_EVERY: Duration = Duration::from_millis(50);

pub const HEADER: &str = "idempotency-key";
const MAX_KEY: usize = 255;

/// The key a request came with, if any.
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_KEY => Ok(Some(key.to_owned())),
        _ => Err(Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-idempotency-key",
            format!("Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters"),
        )),
    }
}

/// A digest of everything that makes two requests the same request.
pub fn request_hash(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// Runs `work` at most once for `user`'s `key` (see the module's doc).
/// `hash` tells a retry from another request under the same key. The
/// claim, the work and the answer's record run to their end even if the
/// client leaves at any point, so no claim is stranded.
pub async fn run_once<T, F>(
    store: Arc<dyn IdempotencyKeys>,
    keyed: &KeyedRequests,
    user: &str,
    key: &str,
    hash: &str,
    work: F,
) -> Result<Guarded<T>, Problem>
where
    T: Send + 'static,
    F: Future<Output = Result<(Stored, T), Problem>> + Send + 'static,
{
    if let Some(earlier) = keyed.earlier(user, key, hash) {
        return Ok(Guarded::Earlier(earlier));
    }
    let (user, key, hash) = (user.to_owned(), key.to_owned(), hash.to_owned());
    let keyed = keyed.clone();
    let guarded = async move {
        let (claim, claimed) = store.decide_claim(&user, &key, &hash, LEASE).await?;
        if let Some(earlier) = earlier(claim)? {
            return Ok(Guarded::Earlier(earlier));
        }
        let holding = keyed.hold(&user, &key);
        let done = AssertUnwindSafe(work).catch_unwind().await;
        drop(holding);
        match done {
            Ok(Ok((stored, extra))) => {
                // The work ran while the claim went to disk; the client
                // hears only once both are stored (see the module's doc).
                claimed.wait().await?;
                // Recorded after the answer goes out (see the module's doc).
                keyed.remember(user, key, hash, &stored);
                Ok(Guarded::Ran(stored, extra))
            }
            Ok(Err(problem)) => {
                release(&*store, &user, &key).await;
                Err(problem)
            }
            Err(_panic) => {
                release(&*store, &user, &key).await;
                Err(IngestError::Broken("the request's work panicked").into())
            }
        }
    };
    let id = crate::request_id::current();
    crate::run_to_end::RunToEnd::new(
        crate::request_id::carried(id, guarded).instrument(tracing::Span::current()),
    )
    .await
}

/// What an earlier request decides, for a claim that is not ours to run.
fn earlier(claim: Claim) -> Result<Option<Earlier>, Problem> {
    Ok(Some(match claim {
        Claim::Fresh => return Ok(None),
        Claim::Replay(text) => Earlier::Replay(serde_json::from_str(&text)?),
        Claim::Conflict => Earlier::Conflict,
        Claim::InFlight => Earlier::InFlight,
    }))
}

/// Frees the key after a failed request, so the client's retry can run.
async fn release(store: &dyn IdempotencyKeys, user: &str, key: &str) {
    if let Err(e) = store.release_request(user, key).await {
        tracing::warn!(error = %e, "could not release an idempotency key");
    }
}
