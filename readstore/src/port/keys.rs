//! Idempotency keys: the gateway's keyed requests, claimed before their
//! work runs and answered after, so a retry gets the first answer.

use async_trait::async_trait;

use crate::StoreError;

/// The answer to claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: go ahead, then `complete_request`.
    Fresh,
    /// Seen with the same request: here is the stored answer.
    Replay(String),
    /// Seen with the same request, still being handled (its lease runs).
    InFlight,
    /// Seen with a different request.
    Conflict,
}

/// A lease in µs, as every adapter stores it (past ~146,000 years, half
/// of `i64::MAX`, so adding it to a time cannot overflow).
pub(crate) fn lease_micros(lease: std::time::Duration) -> i64 {
    i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 2)
}

/// Asks the store to write what it holds queued, now.
type Kick = Box<dyn FnOnce() -> Result<(), StoreError> + Send>;

/// When a decided claim is stored. An adapter that stores a claim before
/// deciding on the next hands out one already stored.
pub struct Durable {
    done: Option<tokio::sync::oneshot::Receiver<Result<(), StoreError>>>,
    /// For a claim left for the next write to carry: asks for that write
    /// if none has come by the time it is awaited.
    kick: Option<Kick>,
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable")
            .field("stored", &self.done.is_none())
            .finish_non_exhaustive()
    }
}

impl Durable {
    /// A claim already stored.
    pub fn stored() -> Self {
        Durable {
            done: None,
            kick: None,
        }
    }

    /// A claim whose store answers on `done`.
    pub(crate) fn on(done: tokio::sync::oneshot::Receiver<Result<(), StoreError>>) -> Self {
        Durable {
            done: Some(done),
            kick: None,
        }
    }

    /// A claim the store's next write carries, answering on `done`;
    /// `kick` asks for that write.
    pub(crate) fn carried(done: tokio::sync::oneshot::Receiver<Result<(), StoreError>>, kick: Kick) -> Self {
        Durable {
            done: Some(done),
            kick: Some(kick),
        }
    }

    /// Waits until the claim is stored.
    pub async fn wait(self) -> Result<(), StoreError> {
        let Some(mut done) = self.done else {
            return Ok(());
        };
        match done.try_recv() {
            Ok(stored) => return stored,
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => return Err(StoreError::WriterStopped),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
        }
        if let Some(kick) = self.kick {
            kick()?;
        }
        done.await.map_err(|_| StoreError::WriterStopped)?
    }
}

/// The answer to a claimed request, to store for its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub actor: String,
    pub key: String,
    /// The answer as the gateway replays it (JSON).
    pub response: String,
}

/// Who holds which key, and what each answered.
#[async_trait]
pub trait IdempotencyKeys: Send + Sync {
    /// Claims `(actor, key)` for a request whose body hashes to `hash`,
    /// held for `lease`. A claim whose lease ran out without an answer (its
    /// holder died or vanished) is taken over by the next claim: `Fresh`.
    async fn claim_request(
        &self,
        actor: &str,
        key: &str,
        hash: &str,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError>;

    /// Decides a claim as [`IdempotencyKeys::claim_request`] does, but may
    /// answer before the claim is stored, so the caller can start the
    /// request's work meanwhile; it waits on [`Durable`] before answering
    /// its client. Claims are stored in the order they were decided.
    async fn decide_claim(
        &self,
        actor: &str,
        key: &str,
        hash: &str,
        lease: std::time::Duration,
    ) -> Result<(Claim, Durable), StoreError> {
        let claim = self.claim_request(actor, key, hash, lease).await?;
        Ok((claim, Durable::stored()))
    }

    /// Holds an unanswered claim for `lease` more from now.
    async fn renew_request(
        &self,
        actor: &str,
        key: &str,
        lease: std::time::Duration,
    ) -> Result<(), StoreError>;

    /// Stores the answers to claimed requests, all together.
    async fn complete_requests(&self, answers: &[Answer]) -> Result<(), StoreError>;

    /// Stores the answer to one claimed request.
    async fn complete_request(&self, actor: &str, key: &str, response: &str) -> Result<(), StoreError> {
        let answer = Answer {
            actor: actor.to_owned(),
            key: key.to_owned(),
            response: response.to_owned(),
        };
        self.complete_requests(std::slice::from_ref(&answer)).await
    }

    /// Forgets a claim whose request failed, so a retry can run.
    async fn release_request(&self, actor: &str, key: &str) -> Result<(), StoreError>;

    /// Forgets idempotency keys made before `before` (µs since the epoch)
    /// whose claim is not held; how many.
    async fn prune_requests(&self, before: i64) -> Result<u64, StoreError>;
}
