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

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use imagegram_readstore::{Answer, Claim, IdempotencyKeys};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::{IngestError, Problem};

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

/// An answer as stored for replay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub status: u16,
    pub location: Option<String>,
    /// Where the write's event sits in the log (see `consistency`).
    #[serde(default)]
    pub consistency: Option<String>,
    /// The JSON body, serialised once: as the answer, as what is stored,
    /// and as each replay (a `Value` was serialised again for each, and
    /// cloned whole for the gateway's memory of answers).
    pub body: Box<serde_json::value::RawValue>,
}

impl Stored {
    /// The answer as the request that ran the work gives it.
    pub fn response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let json = [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        let mut response = (status, json, String::from(self.body.get())).into_response();
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        if let Some(token) = self.consistency.and_then(|t| HeaderValue::from_str(&t).ok()) {
            response.headers_mut().insert(crate::consistency::HEADER, token);
        }
        response
    }

    /// The answer as a retry gets it.
    fn replayed(self) -> Response {
        let mut response = self.response();
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        response
    }
}

/// What a keyed request comes to.
pub enum Guarded<T> {
    /// This request ran the work; here is what the work gave besides its answer.
    Ran(Stored, T),
    /// An earlier request with the key decides.
    Earlier(Earlier),
}

/// What an earlier request with the same key came to.
pub enum Earlier {
    /// It was answered: this is its answer, to replay.
    Replay(Stored),
    /// It is still being handled (its lease runs).
    InFlight,
    /// It had another body.
    Conflict,
}

impl IntoResponse for Earlier {
    /// A replay of the first answer, 409 while it runs, 422 for another body.
    fn into_response(self) -> Response {
        match self {
            Earlier::Replay(stored) => {
                crate::metrics::idempotent_replay();
                stored.replayed()
            }
            Earlier::Conflict => Problem::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "this Idempotency-Key was used with a different request",
            )
            .into_response(),
            Earlier::InFlight => {
                let mut response = Problem::client(
                    StatusCode::CONFLICT,
                    "request-in-progress",
                    "a request with this Idempotency-Key is still being handled; retry shortly",
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
        }
    }
}

/// This gateway's keyed requests: the claims its work holds now, and the
/// answers it gave that the store does not have yet, by (user, key), each
/// with its request's digest.
#[derive(Clone)]
pub struct KeyedRequests {
    held: Arc<Mutex<HashSet<(String, String)>>>,
    unrecorded: Arc<Mutex<Unrecorded>>,
}

/// A user and one of their keys.
type Name = (String, String);
/// An answer given, with its request's digest.
type Given = Arc<(String, Stored)>;
/// Answers given and not yet recorded, by name.
type Unrecorded = HashMap<Name, Given>;

/// A claim held while its work runs; let go when dropped, whatever ended
/// the work.
struct Holding {
    held: Arc<Mutex<HashSet<(String, String)>>>,
    claim: (String, String),
}

impl Drop for Holding {
    fn drop(&mut self) {
        lock(&self.held).remove(&self.claim);
    }
}

/// The lock, even if a panic poisoned it (the set and the list stay whole).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl KeyedRequests {
    /// An empty memory; see [`KeyedRequests::record_every`].
    pub fn new() -> Self {
        KeyedRequests {
            held: Arc::default(),
            unrecorded: Arc::default(),
        }
    }

    /// Records the answers in `keys` every [`RECORD_EVERY`], and renews
    /// the held claims' leases every third of a lease, until `stop`. The
    /// gateway records what is left once its drain ends.
    pub fn record_every(&self, keys: Arc<dyn IdempotencyKeys>, stop: tokio_util::sync::CancellationToken) {
        let keyed = self.clone();
        tokio::spawn(async move {
            let mut record = tokio::time::interval(RECORD_EVERY);
            record.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + LEASE / 3, LEASE / 3);
            loop {
                tokio::select! {
                    _ = record.tick() => keyed.record(&*keys).await,
                    _ = renew.tick() => keyed.renew(&*keys).await,
                    _ = stop.cancelled() => return,
                }
            }
        });
    }

    /// Holds every claim whose work still runs for a lease more. One timer
    /// for all of them: a timer of each request's own was 3% of its CPU.
    async fn renew(&self, keys: &dyn IdempotencyKeys) {
        let held: Vec<(String, String)> = lock(&self.held).iter().cloned().collect();
        let renewals = held
            .iter()
            .map(|(user, key)| keys.renew_request(user, key, LEASE));
        for renewed in futures::future::join_all(renewals).await {
            if let Err(e) = renewed {
                tracing::warn!(error = %e, "could not renew an idempotency claim");
            }
        }
    }

    /// Marks `user`'s claim on `key` held until the returned guard drops.
    fn hold(&self, user: &str, key: &str) -> Holding {
        let claim = (user.to_owned(), key.to_owned());
        lock(&self.held).insert(claim.clone());
        Holding {
            held: Arc::clone(&self.held),
            claim,
        }
    }

    /// Stores every answer not yet stored, then forgets them: the store
    /// answers their retries from then on. They are kept until it has
    /// them, so a retry meanwhile is still replayed, not refused as in
    /// flight. A failure costs only replays (see the module's doc).
    pub async fn record(&self, keys: &dyn IdempotencyKeys) {
        let answered: Vec<(Name, Given)> = lock(&self.unrecorded)
            .iter()
            .map(|(name, answer)| (name.clone(), Arc::clone(answer)))
            .collect();
        if answered.is_empty() {
            return;
        }
        let mut answers = Vec::with_capacity(answered.len());
        for ((actor, key), answer) in &answered {
            match serde_json::to_string(&answer.1) {
                Ok(response) => answers.push(Answer {
                    actor: actor.clone(),
                    key: key.clone(),
                    response,
                }),
                Err(e) => tracing::error!(error = %e, "could not serialise an idempotent answer"),
            }
        }
        if let Err(e) = keys.complete_requests(&answers).await {
            tracing::warn!(error = %e, answers = answers.len(), "could not store idempotent answers");
        }
        // Only the answers just recorded: a key answered again meanwhile
        // (its claim taken over) keeps its newer answer for the next record.
        let mut unrecorded = lock(&self.unrecorded);
        for (name, given) in &answered {
            if unrecorded.get(name).is_some_and(|kept| Arc::ptr_eq(kept, given)) {
                unrecorded.remove(name);
            }
        }
    }

    /// Keeps the answer to `user`'s `key` for its retries, until the next
    /// record.
    fn remember(&self, user: String, key: String, hash: String, stored: &Stored) {
        let answer = Arc::new((hash, stored.clone()));
        lock(&self.unrecorded).insert((user, key), answer);
    }

    /// What an earlier request with `key` decided, if this gateway
    /// answered it and the store may not have it yet.
    fn earlier(&self, user: &str, key: &str, hash: &str) -> Option<Earlier> {
        let answered = lock(&self.unrecorded)
            .get(&(user.to_owned(), key.to_owned()))
            .map(Arc::clone)?;
        let (stored_hash, stored) = &*answered;
        Some(if stored_hash == hash {
            Earlier::Replay(stored.clone())
        } else {
            Earlier::Conflict
        })
    }
}

impl Default for KeyedRequests {
    fn default() -> Self {
        KeyedRequests::new()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A 201 as a comment's work answers it.
    fn created() -> Stored {
        Stored {
            status: 201,
            location: None,
            consistency: None,
            body: serde_json::value::to_raw_value(&serde_json::json!({"id": 1})).expect("json"),
        }
    }

    #[test]
    fn a_remembered_answer_replays_for_the_same_request_only() {
        let keyed = KeyedRequests::new();
        let stored = created();
        keyed.remember("ann".into(), "k".into(), "same".into(), &stored);
        assert!(matches!(keyed.earlier("ann", "k", "same"), Some(Earlier::Replay(s)) if s.status == 201));
        assert!(matches!(
            keyed.earlier("ann", "k", "other"),
            Some(Earlier::Conflict)
        ));
        assert!(keyed.earlier("bob", "k", "same").is_none());
        assert!(keyed.earlier("ann", "j", "same").is_none());
        let unrecorded = keyed.unrecorded.lock().expect("lock");
        assert_eq!(unrecorded.len(), 1, "and it waits to be recorded");
        let (hash, kept) = &**unrecorded.get(&("ann".to_owned(), "k".to_owned())).expect("kept");
        assert_eq!(hash, "same");
        assert_eq!(kept.body.get(), stored.body.get());
    }

    /// Once recorded, an answer is the store's to replay, and the gateway
    /// forgets it.
    #[tokio::test]
    async fn recorded_answers_move_to_the_store() {
        let dir = tempfile::tempdir().expect("dir");
        let store = imagegram_readstore::SqlStore::sqlite(&dir.path().join("keys.db"))
            .await
            .expect("sqlite");
        let keyed = KeyedRequests::new();
        assert_eq!(
            store
                .claim_request("ann", "k", "same", LEASE)
                .await
                .expect("claim"),
            Claim::Fresh
        );
        let stored = created();
        keyed.remember("ann".into(), "k".into(), "same".into(), &stored);
        keyed.record(&store).await;
        assert!(keyed.earlier("ann", "k", "same").is_none(), "forgotten");
        let Claim::Replay(text) = store
            .claim_request("ann", "k", "same", LEASE)
            .await
            .expect("claim")
        else {
            panic!("the store replays the answer");
        };
        let replayed: Stored = serde_json::from_str(&text).expect("json");
        assert_eq!((replayed.status, replayed.body.get()), (201, stored.body.get()));
    }
}
