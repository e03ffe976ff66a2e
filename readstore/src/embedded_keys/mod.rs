//! Idempotency keys of the embedded mode in a redb file of their own
//! (`keys.redb`), written by one thread that folds every claim and answer
//! waiting at that moment into one transaction and one fsync, as the
//! embedded log does with appends.
//!
//! They were in SQLite's `state.db`, through sqlx. Every statement there
//! is a hand-off to sqlx's worker thread and back, and a profile of keyed
//! comment writes put a third of all samples on that thread: claims and
//! answers cost more than the rest of the request. Here a claim is a
//! lookup and an insert in the writer's own transaction.

mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::{Answer, Claim, IdempotencyKeys, StoreError};
use writer::{Action, Op, Outcome, Writer};

/// Operations waiting for the writer at most; senders wait beyond it.
const QUEUE: usize = 4096;

/// The embedded mode's idempotency keys.
pub struct RedbKeys {
    ops: mpsc::Sender<Op>,
    /// Joined on drop, so the file is closed when the handle goes.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RedbKeys {
    /// Opens (or creates) the keys file at `path`. One process at a time:
    /// another one holding it is refused.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = embedded_file(path)?;
        let (ops, queue) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("idempotency-keys".into())
            .spawn(move || Writer::new(db).run(queue))
            .map_err(|e| StoreError::KeyFile(Arc::new(e.into())))?;
        Ok(RedbKeys {
            ops,
            thread: Some(thread),
        })
    }

    async fn ask(&self, action: Action) -> Result<Outcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.ops
            .send(Op { action, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    async fn done(&self, action: Action) -> Result<(), StoreError> {
        self.ask(action).await.map(drop)
    }
}

fn embedded_file(path: &Path) -> Result<redb::Database, StoreError> {
    imagegram_eventlog::embedded::open_whole(path, |txn| {
        txn.open_table(writer::KEYS)?;
        txn.open_table(writer::BY_AGE)?;
        Ok(())
    })
    .map_err(|e| StoreError::KeyFile(Arc::new(e)))
}

impl Drop for RedbKeys {
    fn drop(&mut self) {
        // Closing the channel ends the writer once queued work is done.
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.ops, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[async_trait]
impl IdempotencyKeys for RedbKeys {
    async fn claim_request(
        &self,
        actor: &str,
        key: &str,
        hash: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let action = Action::Claim {
            actor: actor.to_owned(),
            key: key.to_owned(),
            hash: hash.to_owned(),
            lease_us: crate::port::lease_micros(lease),
        };
        match self.ask(action).await? {
            Outcome::Claimed(claim) => Ok(claim),
            other => Err(StoreError::Corrupt(format!("a claim came to {other:?}"))),
        }
    }

    async fn renew_request(&self, actor: &str, key: &str, lease: Duration) -> Result<(), StoreError> {
        self.done(Action::Renew {
            actor: actor.to_owned(),
            key: key.to_owned(),
            lease_us: crate::port::lease_micros(lease),
        })
        .await
    }

    async fn complete_requests(&self, answers: &[Answer]) -> Result<(), StoreError> {
        self.done(Action::Complete(answers.to_vec())).await
    }

    async fn release_request(&self, actor: &str, key: &str) -> Result<(), StoreError> {
        self.done(Action::Release {
            actor: actor.to_owned(),
            key: key.to_owned(),
        })
        .await
    }

    async fn prune_requests(&self, before: i64) -> Result<u64, StoreError> {
        // In slices, so claims are not held up behind one long transaction.
        let (mut pruned, mut after) = (0, None);
        loop {
            match self.ask(Action::Prune { before, after }).await? {
                Outcome::Pruned { count, next } => {
                    pruned += count;
                    match next {
                        Some(next) => after = Some(next),
                        None => return Ok(pruned),
                    }
                }
                other => return Err(StoreError::Corrupt(format!("a prune came to {other:?}"))),
            }
        }
    }
}
