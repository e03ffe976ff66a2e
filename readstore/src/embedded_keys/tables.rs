//! The keys' tables in the log's file, and how decided changes and
//! pruning are written in a transaction of the log's.

use std::ops::Bound;

use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};

use super::entry::{Change, Entry};
use super::pending::Staged;

/// A key's fields: request digest, answer once given, made at µs, lease until µs.
type Fields<'a> = (&'a str, Option<&'a str>, i64, i64);

/// `(actor, key)` → its [`Fields`].
pub(super) const KEYS: TableDefinition<(&str, &str), Fields<'_>> = TableDefinition::new("idempotency_keys");
/// `(made at µs, actor, key)`, for pruning the oldest first.
pub(super) const BY_AGE: TableDefinition<(i64, &str, &str), ()> = TableDefinition::new("keys_by_age");

/// Index entries one prune slice looks at.
pub(super) const PRUNE_SLICE: usize = 5_000;

/// Where a prune slice stopped: the last index entry it looked at.
pub(super) type AgeKey = (i64, String, String);

/// How many keys a prune slice removed, and where the next slice starts.
#[derive(Debug, Default)]
pub(super) struct Pruned {
    pub count: u64,
    pub next: Option<AgeKey>,
}

/// The keys' table in a snapshot of the file.
pub(super) type StoredKeys = redb::ReadOnlyTable<(&'static str, &'static str), Fields<'static>>;
pub(super) type Keys<'t> = Table<'t, (&'static str, &'static str), Fields<'static>>;
pub(super) type Ages<'t> = Table<'t, (i64, &'static str, &'static str), ()>;

/// Stores decided changes, in order, in `txn`.
pub(super) fn store_all(txn: &WriteTransaction, changes: &[Staged]) -> Result<(), redb::Error> {
    let mut keys = txn.open_table(KEYS)?;
    let mut ages = txn.open_table(BY_AGE)?;
    for staged in changes {
        store(&mut keys, &mut ages, staged)?;
    }
    Ok(())
}

/// One slice of pruning in `txn` (see [`prune`]).
pub(super) fn prune_slice(
    txn: &WriteTransaction,
    before: i64,
    after: Option<&AgeKey>,
    busy: impl Fn(&str, &str) -> bool,
) -> Result<Pruned, redb::Error> {
    let mut keys = txn.open_table(KEYS)?;
    let mut ages = txn.open_table(BY_AGE)?;
    prune(
        &mut keys,
        &mut ages,
        before,
        after,
        imagegram_schemas::now_us(),
        PRUNE_SLICE,
        busy,
    )
}

fn store(keys: &mut Keys<'_>, ages: &mut Ages<'_>, staged: &Staged) -> Result<(), redb::Error> {
    let name = (staged.actor.as_str(), staged.key.as_str());
    match &staged.change {
        Change::Put { entry, new } => {
            keys.insert(
                name,
                (
                    entry.hash.as_str(),
                    entry.answer.as_deref(),
                    entry.made,
                    entry.until,
                ),
            )?;
            if *new {
                ages.insert((entry.made, name.0, name.1), ())?;
            }
        }
        Change::Remove { made } => {
            keys.remove(name)?;
            ages.remove((*made, name.0, name.1))?;
        }
    }
    Ok(())
}

/// A key's stored state.
pub(super) fn entry(
    keys: &impl ReadableTable<(&'static str, &'static str), Fields<'static>>,
    (actor, key): (&str, &str),
) -> Result<Option<Entry>, redb::Error> {
    Ok(keys.get((actor, key))?.map(|found| {
        let (hash, answer, made, until) = found.value();
        Entry {
            hash: hash.to_owned(),
            answer: answer.map(str::to_owned),
            made,
            until,
        }
    }))
}

/// Removes keys made before `before` that are answered or no longer held,
/// looking at one slice of the age index after `after`. A key with a
/// change on its way (`busy`) is left to a later prune.
fn prune(
    keys: &mut Keys<'_>,
    ages: &mut Ages<'_>,
    before: i64,
    after: Option<&AgeKey>,
    now: i64,
    most: usize,
    busy: impl Fn(&str, &str) -> bool,
) -> Result<Pruned, redb::Error> {
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
        if busy(actor, key) {
            continue;
        }
        let held = match entry(keys, (actor, key))? {
            // Made again since (released, then claimed anew): another entry indexes it.
            Some(stored) if stored.made != *made => None,
            Some(stored) => Some(stored.answer.is_none() && stored.until >= now),
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
    Ok(Pruned { count, next })
}

#[cfg(test)]
mod tests {
    use super::super::entry;
    use super::*;
    use crate::Claim;
    use redb::{Database, ReadableTableMetadata};

    /// Claims `key` as the handle would, straight into `txn`.
    fn claim_at(txn: &WriteTransaction, key: &str, now: i64, until: i64) -> Claim {
        let mut keys = txn.open_table(KEYS).expect("table");
        let mut ages = txn.open_table(BY_AGE).expect("table");
        let current = entry(&keys, ("ann", key)).expect("read");
        let (claim, change) = entry::claim(current.as_ref(), "h", now, until);
        if let Some(change) = change {
            let staged = Staged {
                actor: "ann".into(),
                key: key.into(),
                change,
                seq: 0,
            };
            store(&mut keys, &mut ages, &staged).expect("store");
        }
        claim
    }

    /// Pruning goes slice by slice, steps over held claims and keys with a
    /// change on its way without stopping, and leaves the index matching
    /// the keys.
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
            let busy = |_: &str, key: &str| key == "k7";
            let slice = prune(&mut keys, &mut ages, 8, after.as_ref(), 100, 3, busy).expect("prune");
            pruned += slice.count;
            slices += 1;
            match slice.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(slices, 3, "8 keys made before the cut, 3 a slice");
        assert_eq!(pruned, 4, "k1 k2 k4 k5");
        let keys = txn.open_table(KEYS).expect("table");
        let ages = txn.open_table(BY_AGE).expect("table");
        assert_eq!(keys.len().expect("len"), 6);
        assert_eq!(ages.len().expect("len"), 6);
        assert!(
            entry(&keys, ("ann", "k8")).expect("read").is_some(),
            "made after the cut"
        );
        assert!(entry(&keys, ("ann", "k3")).expect("read").is_some(), "held");
        assert!(entry(&keys, ("ann", "k7")).expect("read").is_some(), "busy");
    }

    /// A lapsed claim taken over keeps its age: one index entry per key.
    #[test]
    fn a_taken_over_claim_keeps_one_index_entry() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Database::create(dir.path().join("k.redb")).expect("db");
        let txn = db.begin_write().expect("txn");
        assert_eq!(claim_at(&txn, "a", 10, 20), Claim::Fresh);
        assert_eq!(claim_at(&txn, "a", 11, 21), Claim::InFlight);
        assert_eq!(claim_at(&txn, "a", 30, 40), Claim::Fresh, "taken over");
        let keys = txn.open_table(KEYS).expect("table");
        let ages = txn.open_table(BY_AGE).expect("table");
        let stored = entry(&keys, ("ann", "a")).expect("read").expect("kept");
        assert_eq!((stored.made, stored.until), (10, 40));
        assert_eq!(ages.len().expect("len"), 1);
    }
}
