//! Idempotency claims and answers written in batches: every claim and
//! answer that arrives while a batch commits goes into the next one, one
//! transaction for all of them: one commit for the batch instead of two
//! for every keyed request, the log's group commit, for the keys.
//!
//! A batch runs each request's statements in order, so two claims of one
//! key in one batch see each other (the second is told the first is in
//! flight). If the batch fails as a whole, each of its requests is run
//! again by itself, so one request's failure is never another's.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Acquire, Any, AnyConnection, AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::dialect::Dialect;
use super::store::{now_us, text_or_null};
use crate::{Answer, Claim, StoreError};

/// Requests in one batch at most.
const MOST: usize = 512;

/// A claim of `(actor, key)` for a request whose digest is `hash`.
#[derive(Debug)]
pub(crate) struct ClaimOf {
    pub actor: String,
    pub key: String,
    pub hash: String,
    pub lease: Duration,
}

#[derive(Debug)]
enum Op {
    Claim(ClaimOf, oneshot::Sender<Result<Claim, StoreError>>),
    Complete {
        actor: String,
        key: String,
        response: String,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// The writer every claim and answer of a store goes through.
#[derive(Debug)]
pub(crate) struct Batcher {
    ops: mpsc::Sender<Op>,
}

fn gone() -> StoreError {
    StoreError::Database(sqlx::Error::WorkerCrashed)
}

impl Batcher {
    /// Starts the writer; it ends when the batcher is dropped.
    pub(crate) fn start(pool: AnyPool, dialect: Dialect) -> Batcher {
        let (ops, queue) = mpsc::channel(4 * MOST);
        tokio::spawn(write_batches(pool, dialect, queue));
        Batcher { ops }
    }

    pub(crate) async fn claim(&self, claim: ClaimOf) -> Result<Claim, StoreError> {
        let (done, answer) = oneshot::channel();
        self.ops.send(Op::Claim(claim, done)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// Stores `answers`: sent together, so they fold into as few
    /// batches as the queue allows.
    pub(crate) async fn complete(&self, answers: &[Answer]) -> Result<(), StoreError> {
        let mut waiting = Vec::with_capacity(answers.len());
        for answer in answers {
            let (done, stored) = oneshot::channel();
            let op = Op::Complete {
                actor: answer.actor.clone(),
                key: answer.key.clone(),
                response: answer.response.clone(),
                done,
            };
            self.ops.send(op).await.map_err(|_| gone())?;
            waiting.push(stored);
        }
        for stored in waiting {
            stored.await.map_err(|_| gone())??;
        }
        Ok(())
    }
}

async fn write_batches(pool: AnyPool, dialect: Dialect, mut queue: mpsc::Receiver<Op>) {
    // The batches' own connection, kept from one batch to the next.
    let mut own: Option<PoolConnection<Any>> = None;
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MOST {
            match queue.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        match run_together(&pool, dialect, &mut own, &batch).await {
            Ok(outcomes) => {
                for (op, outcome) in batch.into_iter().zip(outcomes) {
                    answer(op, Ok(outcome));
                }
            }
            Err(e) => {
                // The connection may be what broke: the next batch takes another.
                own = None;
                tracing::debug!(error = %e, requests = batch.len(), "a batch of claims failed; each runs by itself");
                for op in batch {
                    let outcome = run_alone(&pool, dialect, &op).await;
                    answer(op, outcome);
                }
            }
        }
    }
}

/// What one op came to: a claim's outcome, or nothing for an answer.
type Outcome = Option<Claim>;

async fn run_together(
    pool: &AnyPool,
    dialect: Dialect,
    own: &mut Option<PoolConnection<Any>>,
    batch: &[Op],
) -> Result<Vec<Outcome>, StoreError> {
    let conn = match own {
        Some(conn) => conn,
        None => own.insert(pool.acquire().await?),
    };
    let mut tx = conn.begin().await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for op in batch {
        outcomes.push(run_on(&mut tx, dialect, op).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}

async fn run_alone(pool: &AnyPool, dialect: Dialect, op: &Op) -> Result<Outcome, StoreError> {
    let mut conn = pool.acquire().await?;
    run_on(&mut conn, dialect, op).await
}

async fn run_on(conn: &mut AnyConnection, dialect: Dialect, op: &Op) -> Result<Outcome, StoreError> {
    match op {
        Op::Claim(claim, _) => Ok(Some(claim_on(conn, dialect, claim).await?)),
        Op::Complete {
            actor, key, response, ..
        } => {
            sqlx::query("UPDATE idempotency_keys SET response = ? WHERE actor = ? AND idem_key = ?")
                .bind(response.as_str())
                .bind(actor.as_str())
                .bind(key.as_str())
                .execute(&mut *conn)
                .await?;
            Ok(None)
        }
    }
}

fn answer(op: Op, outcome: Result<Outcome, StoreError>) {
    match op {
        Op::Claim(_, done) => {
            let claimed = outcome
                .and_then(|o| o.ok_or_else(|| StoreError::Corrupt("a claim without an outcome".into())));
            let _ = done.send(claimed);
        }
        Op::Complete { done, .. } => {
            let _ = done.send(outcome.map(|_| ()));
        }
    }
}

/// Claims a key: fresh, taken over from a holder whose lease ran out, or
/// what an earlier request with it decides.
async fn claim_on(conn: &mut AnyConnection, dialect: Dialect, claim: &ClaimOf) -> Result<Claim, StoreError> {
    let lease_us = crate::port::lease_micros(claim.lease);
    // A few rounds at most: a claim released or taken over between our
    // statements (outside a batch) is looked at again.
    for _ in 0..3 {
        let now = now_us();
        let sql = format!(
            "{} INTO idempotency_keys (actor, idem_key, request_hash, response, created_at, lease_until) \
             VALUES (?, ?, ?, NULL, ?, ?)",
            dialect.insert_ignore()
        );
        let inserted = sqlx::query(&sql)
            .bind(claim.actor.as_str())
            .bind(claim.key.as_str())
            .bind(claim.hash.as_str())
            .bind(now)
            .bind(now + lease_us)
            .execute(&mut *conn)
            .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Fresh);
        }
        let row = sqlx::query(
            "SELECT request_hash, response, lease_until FROM idempotency_keys WHERE actor = ? AND idem_key = ?",
        )
        .bind(claim.actor.as_str())
        .bind(claim.key.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { continue };
        let stored: String = row.try_get("request_hash")?;
        let response = text_or_null(&row, "response")?;
        let lease_until: i64 = row.try_get("lease_until")?;
        match (stored == claim.hash, response) {
            (false, _) => return Ok(Claim::Conflict),
            (true, Some(response)) => return Ok(Claim::Replay(response)),
            (true, None) if lease_until > now => return Ok(Claim::InFlight),
            (true, None) => {
                // Its holder died or vanished: take the claim over, unless
                // another retry did so first.
                let taken = sqlx::query(
                    "UPDATE idempotency_keys SET lease_until = ? \
                     WHERE actor = ? AND idem_key = ? AND response IS NULL AND lease_until = ?",
                )
                .bind(now + lease_us)
                .bind(claim.actor.as_str())
                .bind(claim.key.as_str())
                .bind(lease_until)
                .execute(&mut *conn)
                .await?;
                if taken.rows_affected() == 1 {
                    return Ok(Claim::Fresh);
                }
            }
        }
    }
    Ok(Claim::InFlight)
}
