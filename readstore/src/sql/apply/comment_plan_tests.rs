//! The comment planner and the last-two rule, without a database.

use super::super::comment_writes::placeholders;
use super::*;
use imagegram_schemas::EventMeta;

fn meta(actor: &str, post: u128, at: i64) -> EventMeta {
    EventMeta {
        event_id: Uuid::new_v4(),
        idempotency_key: "k".into(),
        actor: actor.into(),
        occurred_at: at,
        post_id: Uuid::from_u128(post),
        request_id: None,
    }
}

fn added(id: u128, actor: &str, post: u128) -> CommentAdded {
    CommentAdded {
        meta: meta(actor, post, id as i64),
        comment_id: Uuid::from_u128(id),
        content: format!("c{id}"),
    }
}

fn deleted(id: u128, actor: &str, post: u128) -> CommentDeleted {
    CommentDeleted {
        meta: meta(actor, post, 0),
        comment_id: Uuid::from_u128(id),
    }
}

fn view(id: u128, at: i64) -> CommentView {
    CommentView {
        id: Uuid::from_u128(id),
        post_id: Uuid::nil(),
        creator: "a".into(),
        content: "c".into(),
        created_at: at,
    }
}

#[test]
fn adds_count_once_and_deletes_need_the_author() {
    let (a1, a1_again, a2) = (added(1, "ann", 9), added(1, "ann", 9), added(2, "bob", 9));
    let (forged, own, twice, missing) = (
        deleted(1, "bob", 9),
        deleted(1, "ann", 9),
        deleted(1, "ann", 9),
        deleted(5, "ann", 9),
    );
    let events = [
        CommentEvent::Added(&a1),
        CommentEvent::Added(&a1_again),
        CommentEvent::Added(&a2),
        CommentEvent::Deleted(&forged),
        CommentEvent::Deleted(&own),
        CommentEvent::Deleted(&twice),
        CommentEvent::Deleted(&missing),
    ];
    let plan = plan(&events, &HashMap::new());
    assert_eq!(plan.inserts.len(), 2);
    assert!(plan.inserts[0].1, "comment 1 is inserted already deleted");
    assert!(!plan.inserts[1].1);
    assert!(plan.deletes.is_empty(), "nothing stored to update");
    let reasons: Vec<&str> = plan.rejects.iter().map(|(_, r)| *r).collect();
    assert_eq!(
        reasons,
        ["only the comment's author may delete it", "no such comment"]
    );
    assert_eq!(plan.deltas[&Uuid::from_u128(9)], 1);
}

#[test]
fn stored_comments_are_updated_and_checked_against_their_post() {
    let stored: HashMap<Uuid, Stored> = [
        (
            Uuid::from_u128(1),
            Stored {
                post_id: Uuid::from_u128(9),
                creator: "ann".into(),
                deleted: false,
            },
        ),
        (
            Uuid::from_u128(2),
            Stored {
                post_id: Uuid::from_u128(9),
                creator: "ann".into(),
                deleted: true,
            },
        ),
    ]
    .into();
    let (repeat, elsewhere, own, gone) = (
        added(1, "ann", 9),
        deleted(1, "ann", 8),
        deleted(1, "ann", 9),
        deleted(2, "ann", 9),
    );
    let events = [
        CommentEvent::Added(&repeat),
        CommentEvent::Deleted(&elsewhere),
        CommentEvent::Deleted(&own),
        CommentEvent::Deleted(&gone),
    ];
    let plan = plan(&events, &stored);
    assert!(plan.inserts.is_empty());
    assert_eq!(plan.deletes, vec![Uuid::from_u128(1)]);
    assert_eq!(plan.rejects.len(), 1);
    assert_eq!(plan.rejects[0].1, "the comment belongs to another post");
    assert_eq!(plan.deltas[&Uuid::from_u128(9)], -1);
}

#[test]
fn the_newest_two_win_unless_one_was_deleted() {
    let two = newest_two(vec![view(1, 5), view(2, 9), view(3, 5), view(2, 9)], None).expect("known");
    let ids: Vec<u128> = two.iter().map(|c| c.id.as_u128()).collect();
    assert_eq!(ids, vec![2, 3], "newest first, ties to the larger id");
    let removed: HashSet<Uuid> = [Uuid::from_u128(1)].into();
    assert!(newest_two(vec![view(1, 5), view(2, 9), view(3, 5)], Some(&removed)).is_some());
    let removed: HashSet<Uuid> = [Uuid::from_u128(3)].into();
    assert!(newest_two(vec![view(1, 5), view(2, 9), view(3, 5)], Some(&removed)).is_none());
    assert_eq!(placeholders(2, 2), "(?, ?), (?, ?)");
}
