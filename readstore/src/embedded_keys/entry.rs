//! A key's stored state and what each call makes of it: pure decisions,
//! taken by the handle before any write, and tested without a file.

use crate::Claim;

/// One `(actor, key)`: the request's digest, its answer once given, when
/// it was first claimed and until when its claim holds (µs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub hash: String,
    pub answer: Option<String>,
    pub made: i64,
    pub until: i64,
}

/// What a call changes of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Change {
    /// Store `entry`; `new` when no entry of this key is stored (its age
    /// is indexed, for pruning).
    Put { entry: Entry, new: bool },
    /// Forget the key, first claimed at `made`.
    Remove { made: i64 },
}

/// Fresh, taken over from a holder whose lease ran out, or what an earlier
/// request with the key decides; and the change a fresh claim makes.
pub(super) fn claim(current: Option<&Entry>, hash: &str, now: i64, until: i64) -> (Claim, Option<Change>) {
    let hold = |made| Entry {
        hash: hash.to_owned(),
        answer: None,
        made,
        until,
    };
    match current {
        None => (
            Claim::Fresh,
            Some(Change::Put {
                entry: hold(now),
                new: true,
            }),
        ),
        Some(stored) if stored.hash != hash => (Claim::Conflict, None),
        Some(Entry {
            answer: Some(answer), ..
        }) => (Claim::Replay(answer.clone()), None),
        Some(stored) if stored.until > now => (Claim::InFlight, None),
        // Its holder died or vanished: this request takes it over, and the
        // key keeps its age.
        Some(stored) => (
            Claim::Fresh,
            Some(Change::Put {
                entry: hold(stored.made),
                new: false,
            }),
        ),
    }
}

/// An unanswered claim held until `until`; an answered one is left be.
pub(super) fn renew(current: Option<&Entry>, until: i64) -> Option<Change> {
    match current {
        Some(stored) if stored.answer.is_none() => Some(Change::Put {
            entry: Entry {
                until,
                ..stored.clone()
            },
            new: false,
        }),
        _ => None,
    }
}

/// The answer kept with the claim, if there is a claim.
pub(super) fn complete(current: Option<&Entry>, response: &str) -> Option<Change> {
    current.map(|stored| Change::Put {
        entry: Entry {
            answer: Some(response.to_owned()),
            ..stored.clone()
        },
        new: false,
    })
}

/// An unanswered claim forgotten; an answer stays.
pub(super) fn release(current: Option<&Entry>) -> Option<Change> {
    match current {
        Some(stored) if stored.answer.is_none() => Some(Change::Remove { made: stored.made }),
        _ => None,
    }
}

/// The state a change leaves.
pub(super) fn after(change: &Change) -> Option<Entry> {
    match change {
        Change::Put { entry, .. } => Some(entry.clone()),
        Change::Remove { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(until: i64) -> Entry {
        Entry {
            hash: "h".into(),
            answer: None,
            made: 10,
            until,
        }
    }

    #[test]
    fn a_claim_is_fresh_once_then_in_flight_then_taken_over_when_lapsed() {
        let (first, change) = claim(None, "h", 10, 20);
        assert_eq!(first, Claim::Fresh);
        assert_eq!(
            change,
            Some(Change::Put {
                entry: held(20),
                new: true
            })
        );
        assert_eq!(claim(Some(&held(20)), "h", 15, 25), (Claim::InFlight, None));
        assert_eq!(claim(Some(&held(20)), "x", 15, 25), (Claim::Conflict, None));
        let (again, change) = claim(Some(&held(20)), "h", 30, 40);
        assert_eq!(again, Claim::Fresh, "its lease ran out");
        assert_eq!(
            change,
            Some(Change::Put {
                entry: held(40),
                new: false
            }),
            "and the key keeps its age"
        );
    }

    #[test]
    fn an_answer_replays_and_outlives_renewal_and_release() {
        let answered = Entry {
            answer: Some("{}".into()),
            ..held(20)
        };
        assert_eq!(
            complete(Some(&held(20)), "{}"),
            Some(Change::Put {
                entry: answered.clone(),
                new: false
            })
        );
        assert_eq!(
            claim(Some(&answered), "h", 99, 100),
            (Claim::Replay("{}".into()), None)
        );
        assert_eq!(renew(Some(&answered), 50), None);
        assert_eq!(release(Some(&answered)), None);
        assert_eq!(complete(None, "{}"), None, "no claim, nothing to answer");
    }

    #[test]
    fn an_unanswered_claim_renews_and_releases() {
        assert_eq!(
            renew(Some(&held(20)), 50),
            Some(Change::Put {
                entry: held(50),
                new: false
            })
        );
        assert_eq!(release(Some(&held(20))), Some(Change::Remove { made: 10 }));
        assert_eq!(renew(None, 50), None);
        assert_eq!(release(None), None);
    }
}
