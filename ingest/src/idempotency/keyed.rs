//! This gateway's keyed requests: the claims its work holds, whose leases
//! are renewed together, and the answers it gave that the store does not
//! have yet, recorded together.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use imagegram_readstore::{Answer, IdempotencyKeys};

use super::{Earlier, Stored, LEASE, RECORD_EVERY};

/// This gateway's keyed requests: the claims its work holds now, and the
/// answers it gave that the store does not have yet, by (user, key), each
/// with its request's digest.
#[derive(Clone)]
pub struct KeyedRequests {
    held: Arc<Mutex<HashSet<Name>>>,
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
pub(super) struct Holding {
    held: Arc<Mutex<HashSet<Name>>>,
    claim: Name,
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
        let held: Vec<Name> = lock(&self.held).iter().cloned().collect();
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
    pub(super) fn hold(&self, user: &str, key: &str) -> Holding {
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
    pub(super) fn remember(&self, user: String, key: String, hash: String, stored: &Stored) {
        let answer = Arc::new((hash, stored.clone()));
        lock(&self.unrecorded).insert((user, key), answer);
    }

    /// What an earlier request with `key` decided, if this gateway
    /// answered it and the store may not have it yet.
    pub(super) fn earlier(&self, user: &str, key: &str, hash: &str) -> Option<Earlier> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use imagegram_readstore::Claim;

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
