//! Changes decided but not yet stored. The handle decides every call from
//! these first and from the file second, under one lock, so a decision
//! always sees every change decided before it; the writer lets a change go
//! once its commit has ended (a failed commit's changes go too, and the
//! file's state stands again).

use std::collections::HashMap;

use super::entry::{self, Change, Entry};

/// One decided change of `(actor, key)`, in the order decided (`seq`).
#[derive(Debug)]
pub(super) struct Staged {
    pub actor: String,
    pub key: String,
    pub change: Change,
    pub seq: u64,
}

#[derive(Default)]
pub(super) struct Pending {
    /// Each key's state after its last change not yet stored, and that change's `seq`.
    latest: HashMap<(String, String), (Option<Entry>, u64)>,
    next_seq: u64,
}

impl Pending {
    /// The state `(actor, key)` is in after its changes not yet stored,
    /// if it has any: `Some(None)` is a key being removed.
    pub(super) fn state(&self, actor: &str, key: &str) -> Option<Option<Entry>> {
        self.latest
            .get(&(actor.to_owned(), key.to_owned()))
            .map(|(state, _)| state.clone())
    }

    /// Whether `(actor, key)` has a change not yet stored.
    pub(super) fn has(&self, actor: &str, key: &str) -> bool {
        self.latest.contains_key(&(actor.to_owned(), key.to_owned()))
    }

    /// Records `change` as the key's latest, to be stored in this order.
    pub(super) fn stage(&mut self, actor: &str, key: &str, change: Change) -> Staged {
        self.next_seq += 1;
        let seq = self.next_seq;
        self.latest
            .insert((actor.to_owned(), key.to_owned()), (entry::after(&change), seq));
        Staged {
            actor: actor.to_owned(),
            key: key.to_owned(),
            change,
            seq,
        }
    }

    /// Lets go of changes whose commit ended, unless a later change of the
    /// same key is still on its way.
    pub(super) fn settle<'a>(&mut self, done: impl IntoIterator<Item = &'a Staged>) {
        for staged in done {
            let name = (staged.actor.clone(), staged.key.clone());
            if self.latest.get(&name).is_some_and(|(_, seq)| *seq == staged.seq) {
                self.latest.remove(&name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_settles_only_with_its_latest_change() {
        let mut pending = Pending::default();
        let first = pending.stage("ann", "k", Change::Remove { made: 1 });
        let entry = Entry {
            hash: "h".into(),
            answer: None,
            made: 2,
            until: 3,
        };
        let second = pending.stage(
            "ann",
            "k",
            Change::Put {
                entry: entry.clone(),
                new: true,
            },
        );
        pending.settle([&first]);
        assert_eq!(
            pending.state("ann", "k"),
            Some(Some(entry)),
            "the later change stands"
        );
        pending.settle([&second]);
        assert_eq!(pending.state("ann", "k"), None, "the file has it now");
        assert!(!pending.has("ann", "k"));
    }
}
