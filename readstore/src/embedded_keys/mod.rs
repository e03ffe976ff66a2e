//! Idempotency keys of the embedded mode, in tables of the embedded log's
//! own file, written in the log's group commits ([`SideTables`]): a keyed
//! request's claim is stored in the same commit as the event its work
//! appends, or an earlier one. One process holds the file (redb locks it),
//! so this handle decides every call in memory, from the changes it
//! decided but that are not yet stored ([`pending`]) and from the file,
//! under one lock, and queues the changes in the order decided for the
//! log's writer, which stores them at the start of its next commit
//! ([`Rider`]).
//!
//! A claim is answered as soon as it is decided, with a [`Durable`] to
//! wait on: the request's work runs while the claim waits for a commit,
//! and the gateway answers its client only once both are stored. The
//! claim asks for no commit of its own: the append of its work makes one.
//! Calls that no append follows (renewals, answers, releases) ask for one.
//!
//! Measured on keyed comment writes: in SQLite's `state.db` through sqlx,
//! claims and answers cost more than the rest of the request; in a redb
//! file of their own, with a writer thread and commits of their own,
//! about a tenth of its CPU (a redb commit costs about 190 µs whatever it
//! holds); as a write handed to the log's writer for each claim, 270-285
//! µs of CPU per keyed write; queued for the writer's next commit, with
//! one snapshot of the file read by every claim between two commits,
//! 255-264 µs (plain writes: 220-234 µs).

mod entry;
mod pending;
mod tables;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use imagegram_eventlog::embedded::{Apply, Rider, SideTables, SideWrite};
use imagegram_eventlog::LogError;
use tokio::sync::oneshot;

use crate::{Answer, Claim, Durable, IdempotencyKeys, StoreError};
use entry::{Change, Entry};
use pending::{Pending, Staged};
use tables::{AgeKey, Pruned, StoredKeys};

/// The embedded mode's idempotency keys.
pub struct EmbeddedKeys {
    tables: SideTables,
    shared: Arc<Mutex<Shared>>,
}

/// What the handle and the log's writer share, under one lock.
#[derive(Default)]
struct Shared {
    pending: Pending,
    /// Changes decided and not yet in a commit, in the order decided: the
    /// log's next commit stores them ([`EmbeddedKeys::ride`]).
    queued: Vec<Staged>,
    /// Who waits on the queued changes: one for each call that made some.
    waiting: Vec<oneshot::Sender<Result<(), StoreError>>>,
    /// The keys' table as the last commit left it, kept until the next
    /// commit ends, so calls between two commits share one snapshot
    /// (opening one was a tenth of a claim's time). Dropped at every
    /// commit, so it never holds the file's freed pages for long.
    snapshot: Option<StoredKeys>,
}

/// The lock, even if a panic poisoned it: each change is staged whole.
fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
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
        let shared: Arc<Mutex<Shared>> = Arc::default();
        tables.ride(Self::ride(&shared)).map_err(StoreError::Log)?;
        Ok(EmbeddedKeys { tables, shared })
    }

    /// What the log's writer runs at the start of each commit: stores the
    /// queued changes in it; once it ended, lets them go and wakes their
    /// waiters, and drops the snapshot it made stale.
    fn ride(shared: &Arc<Mutex<Shared>>) -> Rider {
        let shared = Arc::clone(shared);
        Box::new(move |txn, told| {
            let (changes, waiting, stale) = {
                let mut shared = lock(&shared);
                let stale = shared.snapshot.is_some();
                (
                    std::mem::take(&mut shared.queued),
                    std::mem::take(&mut shared.waiting),
                    stale,
                )
            };
            if changes.is_empty() && !stale {
                return Ok(()); // nothing to store, and no snapshot to drop
            }
            let stored = if changes.is_empty() {
                Ok(())
            } else {
                tables::store_all(txn, &changes)
            };
            let shared = Arc::clone(&shared);
            told.push(Box::new(move |result| {
                {
                    // Stored or not, the file's state stands for these keys now.
                    let mut shared = lock(&shared);
                    shared.snapshot = None;
                    shared.pending.settle(changes.iter());
                }
                // Each waiter hears the commit's failure, as each append in it does.
                let told = |result: &Result<(), LogError>| match result {
                    Ok(()) => Ok(()),
                    Err(e) => Err(StoreError::Log(LogError::Storage(e.to_string().into()))),
                };
                for waiter in waiting {
                    let _ = waiter.send(told(&result));
                }
            }));
            stored
        })
    }

    /// Decides a change of each of `names` from its state, and queues the
    /// changes for the log's next commit, all under the lock (so they are
    /// stored in the order decided). What `decide` returns besides goes
    /// back with them. With `kick`, asks for that commit now; without, a
    /// commit that comes anyway carries them (a claim's: its request's
    /// append), and [`Durable::wait`] asks if none has come.
    fn change<T>(
        &self,
        names: &[(&str, &str)],
        kick: bool,
        mut decide: impl FnMut(usize, Option<&Entry>, i64) -> (T, Option<Change>),
    ) -> Result<(Vec<T>, Durable), StoreError> {
        let mut shared = lock(&self.shared);
        let Shared {
            pending,
            queued,
            waiting,
            snapshot,
        } = &mut *shared;
        let stored = match snapshot {
            Some(stored) => stored,
            None => snapshot.insert(self.stored()?),
        };
        let now = imagegram_schemas::now_us();
        let (mut decided, queued_before) = (Vec::with_capacity(names.len()), queued.len());
        for (i, &(actor, key)) in names.iter().enumerate() {
            let current = match pending.state(actor, key) {
                Some(state) => state,
                None => tables::entry(stored, (actor, key)).map_err(file_error)?,
            };
            let (outcome, change) = decide(i, current.as_ref(), now);
            decided.push(outcome);
            if let Some(change) = change {
                queued.push(pending.stage(actor, key, change));
            }
        }
        if queued.len() == queued_before {
            return Ok((decided, Durable::stored()));
        }
        let (reply, done) = oneshot::channel();
        waiting.push(reply);
        drop(shared);
        if kick {
            self.tables.kick().map_err(StoreError::Log)?;
            return Ok((decided, Durable::on(done)));
        }
        let tables = self.tables.clone();
        let kick = Box::new(move || tables.kick().map_err(StoreError::Log));
        Ok((decided, Durable::carried(done, kick)))
    }

    /// The keys' table as of the log's last commit.
    fn stored(&self) -> Result<StoredKeys, StoreError> {
        let read = self.tables.read().map_err(StoreError::Log)?;
        read.open_table(tables::KEYS).map_err(file_error)
    }

    /// Changes one key and waits until the change is stored.
    async fn change_one(
        &self,
        actor: &str,
        key: &str,
        decide: impl FnOnce(Option<&Entry>, i64) -> Option<Change>,
    ) -> Result<(), StoreError> {
        let mut decide = Some(decide);
        let (_, durable) = self.change(&[(actor, key)], true, |_, current, now| {
            ((), decide.take().and_then(|decide| decide(current, now)))
        })?;
        durable.wait().await
    }

    /// One slice of pruning, in a commit of the log's. Keys with a change
    /// on its way are left to a later prune.
    async fn prune_slice(&self, before: i64, after: Option<AgeKey>) -> Result<Pruned, StoreError> {
        let slice: Arc<Mutex<Pruned>> = Arc::default();
        let prune = {
            let (slice, shared) = (Arc::clone(&slice), Arc::clone(&self.shared));
            Box::new(move |txn: &redb::WriteTransaction| {
                let busy = |actor: &str, key: &str| lock(&shared).pending.has(actor, key);
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
        let (mut claims, durable) = self.change(&[(actor, key)], false, |_, current, now| {
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
        let (_, durable) = self.change(&names, true, |i, current, _| {
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
