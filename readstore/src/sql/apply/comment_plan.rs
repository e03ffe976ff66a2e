//! What a batch's comment events do, decided in memory ([`plan`], pure)
//! from what the database already holds of the comments the batch names,
//! and the last-two rule. `comments.rs` carries the plan out.

use std::collections::{BTreeMap, HashMap, HashSet};

use imagegram_schemas::{CommentAdded, CommentDeleted};
use uuid::Uuid;

use crate::CommentView;

#[derive(Clone, Copy)]
pub(super) enum CommentEvent<'a> {
    Added(&'a CommentAdded),
    Deleted(&'a CommentDeleted),
}

/// What the database holds of a comment.
#[derive(Debug, Clone)]
pub(super) struct Stored {
    pub post_id: Uuid,
    pub creator: String,
    pub deleted: bool,
}

/// The effect of a batch's comment events.
#[derive(Default)]
pub(super) struct Plan<'a> {
    /// New comments, and whether a later event in the batch deleted them.
    pub inserts: Vec<(&'a CommentAdded, bool)>,
    /// Stored comments to mark deleted.
    pub deletes: Vec<Uuid>,
    pub rejects: Vec<(&'a CommentDeleted, &'static str)>,
    /// Change of each touched post's live comment count.
    pub deltas: BTreeMap<Uuid, i64>,
    /// Comments deleted in this batch, by post.
    pub removed: BTreeMap<Uuid, HashSet<Uuid>>,
}

/// Decides every event's effect, in log order: a comment added twice counts
/// once, a delete of a missing comment, of one on another post or by anyone
/// but its author is refused, a delete of a deleted comment does nothing.
pub(super) fn plan<'a>(events: &[CommentEvent<'a>], stored: &HashMap<Uuid, Stored>) -> Plan<'a> {
    let mut plan = Plan::default();
    let mut known: HashMap<Uuid, Stored> = HashMap::new();
    let mut inserted_at: HashMap<Uuid, usize> = HashMap::new();
    for event in events {
        match *event {
            CommentEvent::Added(e) => {
                if stored.contains_key(&e.comment_id) || known.contains_key(&e.comment_id) {
                    continue;
                }
                let post = e.meta.post_id;
                known.insert(
                    e.comment_id,
                    Stored {
                        post_id: post,
                        creator: e.meta.actor.clone(),
                        deleted: false,
                    },
                );
                inserted_at.insert(e.comment_id, plan.inserts.len());
                plan.inserts.push((e, false));
                *plan.deltas.entry(post).or_default() += 1;
            }
            CommentEvent::Deleted(e) => {
                let state = known.get(&e.comment_id).or_else(|| stored.get(&e.comment_id));
                let refusal = match state {
                    None => Some("no such comment"),
                    Some(s) if s.post_id != e.meta.post_id => Some("the comment belongs to another post"),
                    Some(s) if s.creator != e.meta.actor => Some("only the comment's author may delete it"),
                    Some(s) if s.deleted => continue,
                    Some(_) => None,
                };
                if let Some(reason) = refusal {
                    plan.rejects.push((e, reason));
                    continue;
                }
                let mut state = state.cloned().unwrap_or_else(|| Stored {
                    post_id: e.meta.post_id,
                    creator: e.meta.actor.clone(),
                    deleted: false,
                });
                state.deleted = true;
                match inserted_at.get(&e.comment_id) {
                    Some(&i) => plan.inserts[i].1 = true,
                    None => plan.deletes.push(e.comment_id),
                }
                known.insert(e.comment_id, state);
                *plan.deltas.entry(e.meta.post_id).or_default() -= 1;
                plan.removed
                    .entry(e.meta.post_id)
                    .or_default()
                    .insert(e.comment_id);
            }
        }
    }
    plan
}

/// The two newest of `candidates` (newest first, ties by the larger id, as
/// in SQL), or `None` when one of those two was deleted: then only the
/// database knows what comes next.
pub(super) fn newest_two(
    mut candidates: Vec<CommentView>,
    removed: Option<&HashSet<Uuid>>,
) -> Option<Vec<CommentView>> {
    newest_first(&mut candidates);
    candidates.dedup_by_key(|c| c.id);
    candidates.truncate(2);
    let gone = removed.is_some_and(|r| candidates.iter().any(|c| r.contains(&c.id)));
    (!gone).then_some(candidates)
}

pub(super) fn newest_first(comments: &mut [CommentView]) {
    comments.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
}

#[cfg(test)]
#[path = "comment_plan_tests.rs"]
mod tests;
