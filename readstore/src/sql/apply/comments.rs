//! The comments of a batch, applied in a few multi-row statements instead
//! of several per event: comments are most of the traffic. The plan
//! (`comment_plan.rs`) decides each event's effect; then one insert adds
//! the new comments, one update marks deletes, one insert records refused
//! deletes, and one upsert sets each touched post's count and last two
//! (the statements are in `comment_writes.rs`).

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::batch::Batch;
use super::comment_plan::{newest_two, plan, CommentEvent};
use crate::{CommentView, StoreError};

impl Batch<'_> {
    pub(super) async fn apply_comments(&mut self, events: &[CommentEvent<'_>]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let ids: BTreeSet<Uuid> = events
            .iter()
            .map(|e| match e {
                CommentEvent::Added(a) => a.comment_id,
                CommentEvent::Deleted(d) => d.comment_id,
            })
            .collect();
        let stored = self.stored_comments(&ids.into_iter().collect::<Vec<_>>()).await?;
        let plan = plan(events, &stored);
        self.insert_comments(&plan.inserts).await?;
        self.mark_deleted(&plan.deletes).await?;
        self.record_refusals(&plan.rejects).await?;
        let mut added: BTreeMap<Uuid, Vec<CommentView>> = BTreeMap::new();
        for (e, _) in &plan.inserts {
            added.entry(e.meta.post_id).or_default().push(CommentView {
                id: e.comment_id,
                post_id: e.meta.post_id,
                creator: e.meta.actor.clone(),
                content: e.content.clone(),
                created_at: e.meta.occurred_at,
            });
        }
        let posts: Vec<Uuid> = plan.deltas.keys().copied().collect();
        let mut last = self.last_comments_of(&posts).await?;
        let mut rows = Vec::with_capacity(posts.len());
        let mut requery = Vec::new();
        for (&post, &delta) in &plan.deltas {
            let mut candidates = last.remove(&post).unwrap_or_default();
            candidates.extend(added.remove(&post).unwrap_or_default());
            let two = newest_two(candidates, plan.removed.get(&post));
            if two.is_none() {
                requery.push(post);
            }
            rows.push((post, delta, two.unwrap_or_default()));
            self.touched(post);
        }
        let mut fresh = self.live_last_two(&requery).await?;
        for (post, _, two) in rows.iter_mut() {
            if let Some(found) = fresh.remove(post) {
                *two = found;
            }
        }
        self.upsert_counts(&rows).await
    }
}
