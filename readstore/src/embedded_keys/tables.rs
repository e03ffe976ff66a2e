//! The keys file's tables and its one writer thread (group commit).

use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{Database, ReadableTable, Table, TableDefinition, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use crate::{Answer, Claim, StoreError};

/// A key's fields: request digest, answer once given, made at µs, lease until µs.
type Fields<'a> = (&'a str, Option<&'a str>, i64, i64);

/// `(actor, key)` → its [`Fields`].
pub(super) const KEYS: TableDefinition<(&str, &str), Fields<'_>> = TableDefinition::new("idempotency_keys");
/// `(made at µs, actor, key)`, for pruning the oldest first.
pub(super) const BY_AGE: TableDefinition<(i64, &str, &str), ()> = TableDefinition::new("keys_by_age");

/// Operations folded into one transaction at most.
const MOST: usize = 1024;
/// Commits start at least this far apart. A commit costs about 190 µs of
/// CPU whatever it holds (pages rewritten and checksummed, an fsync), and
/// back to back they held 3-4 requests each: 54 µs of every keyed
/// request's 356. Spaced by 1 ms, 30 µs, and a claim waits 1 ms at most.
const SPACING: Duration = Duration::from_millis(1);
/// Index entries one prune slice looks at.
const PRUNE_SLICE: usize = 5_000;

/// Where a prune slice stopped: the last index entry it looked at.
pub(super) type AgeKey = (i64, String, String);

#[derive(Debug)]
pub(super) enum Action {
    Claim {
        actor: String,
        key: String,
        hash: String,
        lease_us: i64,
    },
    Renew {
        actor: String,
        key: String,
        lease_us: i64,
    },
    Complete(Vec<Answer>),
    Release {
        actor: String,
        key: String,
    },
    Prune {
        before: i64,
        after: Option<AgeKey>,
    },
}

#[derive(Debug)]
pub(super) enum Outcome {
    Claimed(Claim),
    Done,
    /// How many keys a slice removed, and where the next slice starts.
    Pruned {
        count: u64,
        next: Option<AgeKey>,
    },
}

pub(super) struct Op {
    pub action: Action,
    pub reply: oneshot::Sender<Result<Outcome, StoreError>>,
}

pub(super) struct Writer {
    db: Database,
}

type Keys<'t> = Table<'t, (&'static str, &'static str), Fields<'static>>;
type Ages<'t> = Table<'t, (i64, &'static str, &'static str), ()>;

impl Writer {
    pub(super) fn new(db: Database) -> Self {
        Writer { db }
    }

    pub(super) fn run(self, mut queue: mpsc::Receiver<Op>) {
        let mut last: Option<Instant> = None;
        while let Some(first) = queue.blocking_recv() {
            // Under load, wait out the spacing so that more ops share the commit.
            if let Some(rest) = last.and_then(|last| SPACING.checked_sub(last.elapsed())) {
                std::thread::sleep(rest);
            }
            last = Some(Instant::now());
            let mut batch = vec![first];
            while batch.len() < MOST {
                match queue.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            let actions: Vec<&Action> = batch.iter().map(|op| &op.action).collect();
            match self.commit(&actions) {
                Ok(outcomes) => {
                    for (op, outcome) in batch.into_iter().zip(outcomes) {
                        let _ = op.reply.send(Ok(outcome));
                    }
                }
                Err(e) => {
                    // Nothing of the batch is stored: each request fails,
                    // and its retry starts afresh.
                    tracing::warn!(error = %e, requests = batch.len(), "a batch of idempotency keys failed");
                    let e = Arc::new(e);
                    for op in batch {
                        let _ = op.reply.send(Err(StoreError::KeyFile(Arc::clone(&e))));
                    }
                }
            }
        }
    }

    /// Every action in one transaction, in order (two claims of one key
    /// in a batch see each other); answered once it is durable.
    fn commit(&self, actions: &[&Action]) -> Result<Vec<Outcome>, redb::Error> {
        let txn = self.db.begin_write()?;
        let outcomes = apply(&txn, actions, imagegram_schemas::now_us())?;
        txn.commit()?;
        Ok(outcomes)
    }
}

fn apply(txn: &WriteTransaction, actions: &[&Action], now: i64) -> Result<Vec<Outcome>, redb::Error> {
    let mut keys = txn.open_table(KEYS)?;
    let mut ages = txn.open_table(BY_AGE)?;
    let mut outcomes = Vec::with_capacity(actions.len());
    for action in actions {
        outcomes.push(match action {
            Action::Claim {
                actor,
                key,
                hash,
                lease_us,
            } => Outcome::Claimed(claim(
                &mut keys,
                &mut ages,
                (actor, key),
                hash,
                now,
                now + lease_us,
            )?),
            Action::Renew { actor, key, lease_us } => {
                if let Some((hash, None, made, _)) = entry(&keys, (actor, key))? {
                    keys.insert(
                        (actor.as_str(), key.as_str()),
                        (hash.as_str(), None, made, now + lease_us),
                    )?;
                }
                Outcome::Done
            }
            Action::Complete(answers) => {
                for Answer { actor, key, response } in answers {
                    if let Some((hash, _, made, until)) = entry(&keys, (actor, key))? {
                        keys.insert(
                            (actor.as_str(), key.as_str()),
                            (hash.as_str(), Some(response.as_str()), made, until),
                        )?;
                    }
                }
                Outcome::Done
            }
            Action::Release { actor, key } => {
                if let Some((_, None, made, _)) = entry(&keys, (actor, key))? {
                    keys.remove((actor.as_str(), key.as_str()))?;
                    ages.remove((made, actor.as_str(), key.as_str()))?;
                }
                Outcome::Done
            }
            Action::Prune { before, after } => {
                prune(&mut keys, &mut ages, *before, after.as_ref(), now, PRUNE_SLICE)?
            }
        });
    }
    Ok(outcomes)
}

/// A key's stored fields, owned: `(digest, answer, made at, lease until)`.
type Entry = (String, Option<String>, i64, i64);

fn entry(keys: &Keys<'_>, (actor, key): (&str, &str)) -> Result<Option<Entry>, redb::Error> {
    Ok(keys.get((actor, key))?.map(|found| {
        let (hash, answer, made, until) = found.value();
        (hash.to_owned(), answer.map(str::to_owned), made, until)
    }))
}

/// Fresh, taken over from a holder whose lease ran out, or what an earlier
/// request with the key decides.
fn claim(
    keys: &mut Keys<'_>,
    ages: &mut Ages<'_>,
    (actor, key): (&str, &str),
    hash: &str,
    now: i64,
    until: i64,
) -> Result<Claim, redb::Error> {
    Ok(match entry(keys, (actor, key))? {
        None => {
            keys.insert((actor, key), (hash, None, now, until))?;
            ages.insert((now, actor, key), ())?;
            Claim::Fresh
        }
        Some((stored, _, _, _)) if stored != hash => Claim::Conflict,
        Some((_, Some(answer), _, _)) => Claim::Replay(answer),
        Some((_, None, _, held_until)) if held_until > now => Claim::InFlight,
        Some((_, None, made, _)) => {
            // Its holder died or vanished: this request takes it over.
            keys.insert((actor, key), (hash, None, made, until))?;
            Claim::Fresh
        }
    })
}

/// Removes keys made before `before` that are answered or no longer held,
/// looking at one slice of the age index after `after`.
fn prune(
    keys: &mut Keys<'_>,
    ages: &mut Ages<'_>,
    before: i64,
    after: Option<&AgeKey>,
    now: i64,
    most: usize,
) -> Result<Outcome, redb::Error> {
    let start = match after {
        Some((made, actor, key)) => Bound::Excluded((*made, actor.as_str(), key.as_str())),
        None => Bound::Unbounded,
    };
    let mut slice: Vec<AgeKey> = Vec::new();
    for indexed in ages.range::<(i64, &str, &str)>((start, Bound::Unbounded))? {
        let (indexed, _) = indexed?;
        let (made, actor, key) = indexed.value();
        if made >= before || slice.len() == most {
            break;
        }
        slice.push((made, actor.to_owned(), key.to_owned()));
    }
    let mut count = 0;
    for (made, actor, key) in &slice {
        let held = match entry(keys, (actor, key))? {
            // Made again since (released, then claimed anew): another entry indexes it.
            Some((_, _, stored_made, _)) if stored_made != *made => None,
            Some((_, answer, _, until)) => Some(answer.is_none() && until >= now),
            None => Some(false),
        };
        match held {
            Some(true) => {} // a claim still held stays
            Some(false) => {
                if keys.remove((actor.as_str(), key.as_str()))?.is_some() {
                    count += 1;
                }
                ages.remove((*made, actor.as_str(), key.as_str()))?;
            }
            None => {
                ages.remove((*made, actor.as_str(), key.as_str()))?;
            }
        }
    }
    let next = if slice.len() == most { slice.pop() } else { None };
    Ok(Outcome::Pruned { count, next })
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::ReadableTableMetadata;

    fn claim_at(txn: &WriteTransaction, key: &str, now: i64, until: i64) -> Claim {
        let mut keys = txn.open_table(KEYS).expect("table");
        let mut ages = txn.open_table(BY_AGE).expect("table");
        claim(&mut keys, &mut ages, ("ann", key), "h", now, until).expect("claim")
    }

    /// Pruning goes slice by slice, steps over held claims without
    /// stopping, and leaves the index matching the keys.
    #[test]
    fn pruning_walks_slices_past_held_claims() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::create(dir.path().join("k.redb")).expect("db");
        let txn = db.begin_write().expect("txn");
        for i in 0..10 {
            // Keys 0, 3, 6 and 9 are still held at time 100; the rest lapsed.
            let until = if i % 3 == 0 { 1_000 } else { 50 };
            assert_eq!(claim_at(&txn, &format!("k{i}"), i, until), Claim::Fresh);
        }
        let (mut pruned, mut after, mut slices) = (0, None, 0);
        loop {
            let mut keys = txn.open_table(KEYS).expect("table");
            let mut ages = txn.open_table(BY_AGE).expect("table");
            let Outcome::Pruned { count, next } =
                prune(&mut keys, &mut ages, 8, after.as_ref(), 100, 3).expect("prune")
            else {
                panic!("not a prune");
            };
            pruned += count;
            slices += 1;
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(slices, 3, "8 keys made before the cut, 3 a slice");
        assert_eq!(pruned, 5, "k1 k2 k4 k5 k7");
        let keys = txn.open_table(KEYS).expect("table");
        let ages = txn.open_table(BY_AGE).expect("table");
        assert_eq!(keys.len().expect("len"), 5);
        assert_eq!(ages.len().expect("len"), 5);
        assert!(
            entry(&keys, ("ann", "k8")).expect("read").is_some(),
            "made after the cut"
        );
        assert!(entry(&keys, ("ann", "k3")).expect("read").is_some(), "held");
    }

    /// Two claims of one key in one batch see each other; a lapsed claim is
    /// taken over once, keeping its age; another digest is a conflict.
    #[test]
    fn claims_in_one_transaction_see_each_other() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::create(dir.path().join("k.redb")).expect("db");
        let txn = db.begin_write().expect("txn");
        assert_eq!(claim_at(&txn, "a", 10, 20), Claim::Fresh);
        assert_eq!(claim_at(&txn, "a", 11, 21), Claim::InFlight);
        assert_eq!(claim_at(&txn, "a", 30, 40), Claim::Fresh, "taken over");
        assert_eq!(claim_at(&txn, "a", 31, 41), Claim::InFlight);
        let keys = txn.open_table(KEYS).expect("table");
        assert_eq!(
            entry(&keys, ("ann", "a")).expect("read"),
            Some(("h".into(), None, 10, 40))
        );
        drop(keys);
        let mut keys = txn.open_table(KEYS).expect("table");
        let mut ages = txn.open_table(BY_AGE).expect("table");
        assert_eq!(
            claim(&mut keys, &mut ages, ("ann", "a"), "other", 32, 42).expect("claim"),
            Claim::Conflict
        );
    }
}
