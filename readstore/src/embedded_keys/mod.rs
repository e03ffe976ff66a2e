//! Idempotency keys of the embedded mode, in tables of the embedded log's
//! own file, written in the log's group commits ([`SideTables`]): a keyed
//! request's claim is stored in the same commit as the event its work
//! appends. One process holds the file (redb locks it), so this handle
//! decides every call in memory, from the changes it decided but that are
//! not yet stored ([`pending`]) and from the file, under one lock, and
//! hands the changes to the log's writer in the order decided.
//!
//! A claim is answered as soon as it is decided, with a [`Durable`] to
//! wait on: the request's work runs while the claim goes to disk, and the
//! gateway answers its client only once both are stored.
//!
//! Measured on keyed comment writes: in SQLite's `state.db` through sqlx,
//! claims and answers cost more than the rest of the request; in a redb
//! file of their own, with a writer thread and commits of their own,
//! about a tenth of its CPU (a redb commit costs about 190 µs whatever it
//! holds); here, a few table writes in a commit the log makes anyway.

mod entry;
mod pending;
mod tables;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use imagegram_eventlog::embedded::{Apply, SideTables, SideWrite};
use imagegram_eventlog::LogError;
use tokio::sync::oneshot;

use crate::{Answer, Claim, Durable, IdempotencyKeys, StoreError};
use entry::{Change, Entry};
use pending::Pending;
use tables::{AgeKey, Pruned};

/// The embedded mode's idempotency keys.
pub struct EmbeddedKeys {
    tables: SideTables,
    pending: Arc<Mutex<Pending>>,
}

/// The lock, even if a panic poisoned it: each change is staged whole.
fn lock(pending: &Mutex<Pending>) -> MutexGuard<'_, Pending> {
    pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn file_error(e: impl Into<redb::Error>) -> StoreError {
    StoreError::KeyFile(Arc::new(e.into()))
}

/// Runs `apply` in the log's next commit and waits until that commit ended.
async fn commit_side(tables: &SideTables, apply: Apply) -> Result<(), StoreError> {
    let (reply, done) = oneshot::channel();
    let told = Box::new(move |result| {
        let _ = reply.send(ended(result));
    });
    tables
        .write(SideWrite::new(apply, told))
        .map_err(StoreError::Log)?;
    Durable::on(done).wait().await
}

/// The log's answer on a side write, as this store's.
fn ended(result: Result<(), LogError>) -> Result<(), StoreError> {
    result.map_err(StoreError::Log)
}

impl EmbeddedKeys {
    /// The keys in the log's file behind `tables`, their tables made if new.
    pub async fn open(tables: SideTables) -> Result<Self, StoreError> {
        let make = Box::new(|txn: &redb::WriteTransaction| {
            txn.open_table(tables::KEYS)?;
            txn.open_table(tables::BY_AGE)?;
            Ok(())
        });
        commit_side(&tables, make).await?;
        Ok(EmbeddedKeys {
            tables,
            pending: Arc::default(),
        })
    }

    /// Decides a change of each of `names` from its state, and hands the
    /// changes to the log's writer, all under the lock (so they are stored
    /// in the order decided). What `decide` returns besides goes back with them.
    fn change<T>(
        &self,
        names: &[(&str, &str)],
        mut decide: impl FnMut(usize, Option<&Entry>, i64) -> (T, Option<Change>),
    ) -> Result<(Vec<T>, Durable), StoreError> {
        let mut pending = lock(&self.pending);
        let read = self.tables.read().map_err(StoreError::Log)?;
        let stored = read.open_table(tables::KEYS).map_err(file_error)?;
        let now = imagegram_schemas::now_us();
        let (mut decided, mut changes) = (Vec::with_capacity(names.len()), Vec::new());
        for (i, &(actor, key)) in names.iter().enumerate() {
            let current = match pending.state(actor, key) {
                Some(state) => state,
                None => tables::entry(&stored, (actor, key)).map_err(file_error)?,
            };
            let (outcome, change) = decide(i, current.as_ref(), now);
            decided.push(outcome);
            if let Some(change) = change {
                changes.push(pending.stage(actor, key, change));
            }
        }
        if changes.is_empty() {
            return Ok((decided, Durable::stored()));
        }
        let changes = Arc::new(changes);
        let (reply, done) = oneshot::channel();
        let write = SideWrite::new(
            {
                let changes = Arc::clone(&changes);
                Box::new(move |txn| tables::store_all(txn, &changes))
            },
            {
                let (changes, pending) = (Arc::clone(&changes), Arc::clone(&self.pending));
                Box::new(move |result| {
                    // Stored or not, the file's state stands for these keys now.
                    lock(&pending).settle(changes.iter());
                    let _ = reply.send(ended(result));
                })
            },
        );
        if let Err(e) = self.tables.write(write) {
            pending.settle(changes.iter());
            return Err(StoreError::Log(e));
        }
        Ok((decided, Durable::on(done)))
    }

    /// Changes one key and waits until the change is stored.
    async fn change_one(
        &self,
        actor: &str,
        key: &str,
        decide: impl FnOnce(Option<&Entry>, i64) -> Option<Change>,
    ) -> Result<(), StoreError> {
        let mut decide = Some(decide);
        let (_, durable) = self.change(&[(actor, key)], |_, current, now| {
            ((), decide.take().and_then(|decide| decide(current, now)))
        })?;
        durable.wait().await
    }

    /// One slice of pruning, in a commit of the log's. Keys with a change
    /// on its way are left to a later prune.
    async fn prune_slice(&self, before: i64, after: Option<AgeKey>) -> Result<Pruned, StoreError> {
        let slice: Arc<Mutex<Pruned>> = Arc::default();
        let prune = {
            let (slice, pending) = (Arc::clone(&slice), Arc::clone(&self.pending));
            Box::new(move |txn: &redb::WriteTransaction| {
                let busy = |actor: &str, key: &str| lock(&pending).has(actor, key);
                let pruned = tables::prune_slice(txn, before, after.as_ref(), busy)?;
                *slice.lock().unwrap_or_else(|p| p.into_inner()) = pruned;
                Ok(())
            })
        };
        commit_side(&self.tables, prune).await?;
        let pruned = std::mem::take(&mut *slice.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(pruned)
    }
}

#[async_trait]
impl IdempotencyKeys for EmbeddedKeys {
    async fn claim_request(
        &self,
        actor: &str,
        key: &str,
        hash: &str,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let (claim, durable) = self.decide_claim(actor, key, hash, lease).await?;
        durable.wait().await?;
        Ok(claim)
    }

    async fn decide_claim(
        &self,
        actor: &str,
        key: &str,
        hash: &str,
        lease: Duration,
    ) -> Result<(Claim, Durable), StoreError> {
        let lease = crate::port::lease_micros(lease);
        let (mut claims, durable) = self.change(&[(actor, key)], |_, current, now| {
            entry::claim(current, hash, now, now + lease)
        })?;
        let claim = claims
            .pop()
            .ok_or_else(|| StoreError::Corrupt("a claim came to nothing".into()))?;
        Ok((claim, durable))
    }

    async fn renew_request(&self, actor: &str, key: &str, lease: Duration) -> Result<(), StoreError> {
        let lease = crate::port::lease_micros(lease);
        self.change_one(actor, key, |current, now| entry::renew(current, now + lease))
            .await
    }

    async fn complete_requests(&self, answers: &[Answer]) -> Result<(), StoreError> {
        let names: Vec<(&str, &str)> = answers
            .iter()
            .map(|a| (a.actor.as_str(), a.key.as_str()))
            .collect();
        let (_, durable) = self.change(&names, |i, current, _| {
            ((), entry::complete(current, &answers[i].response))
        })?;
        durable.wait().await
    }

    async fn release_request(&self, actor: &str, key: &str) -> Result<(), StoreError> {
        self.change_one(actor, key, |current, _| entry::release(current))
            .await
    }

    async fn prune_requests(&self, before: i64) -> Result<u64, StoreError> {
        // In slices, so the log's commits are not held up behind one long one.
        let (mut pruned, mut after) = (0, None);
        loop {
            let slice = self.prune_slice(before, after).await?;
            pruned += slice.count;
            match slice.next {
                Some(next) => after = Some(next),
                None => return Ok(pruned),
            }
        }
    }
}
