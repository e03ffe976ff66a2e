//! The one contract every read-store adapter must honour.

#![allow(dead_code)]

use std::sync::Arc;

use imagegram_eventlog::Position;
use imagegram_readstore::{Advance, Claim, FeedKey, PostStatus, ReadStore, StoreError, Upload};
use imagegram_schemas::*;
use uuid::Uuid;

pub struct Events {
    clock: i64,
}

impl Events {
    pub fn new() -> Self {
        Events {
            clock: 1_764_000_000_000_000,
        }
    }

    fn meta(&mut self, actor: &str, post: Uuid) -> EventMeta {
        self.clock += 1_000;
        EventMeta {
            event_id: Uuid::new_v4(),
            idempotency_key: Uuid::new_v4().to_string(),
            actor: actor.into(),
            occurred_at: self.clock,
            post_id: post,
        }
    }

    pub fn upload(&mut self, actor: &str, post: Uuid, caption: &str) -> Event {
        Event::UploadRequested(UploadRequested {
            meta: self.meta(actor, post),
            caption: caption.into(),
            original_key: format!("originals/{post}"),
            format: ImageFormat::Png,
            byte_size: 100,
            original_filename: None,
        })
    }

    pub fn converted(&mut self, post: Uuid) -> Event {
        Event::ImageConverted(ImageConverted {
            meta: self.meta("image-converter", post),
            original_key: format!("originals/{post}"),
            image_key: format!("images/{post}.jpg"),
            width: 600,
            height: 600,
            byte_size: 5000,
        })
    }

    pub fn failed(&mut self, post: Uuid, reason: &str) -> Event {
        Event::ConversionFailed(ConversionFailed {
            meta: self.meta("image-converter", post),
            reason: reason.into(),
        })
    }

    pub fn comment(&mut self, actor: &str, post: Uuid, text: &str) -> (Uuid, Event) {
        let id = Uuid::new_v4();
        let event = Event::CommentAdded(CommentAdded {
            meta: self.meta(actor, post),
            comment_id: id,
            content: text.into(),
        });
        (id, event)
    }

    pub fn delete(&mut self, actor: &str, post: Uuid, comment: Uuid) -> Event {
        Event::CommentDeleted(CommentDeleted {
            meta: self.meta(actor, post),
            comment_id: comment,
        })
    }

    /// A published post.
    pub fn published(&mut self, actor: &str, caption: &str) -> (Uuid, Vec<Event>) {
        let post = Uuid::new_v4();
        (
            post,
            vec![self.upload(actor, post, caption), self.converted(post)],
        )
    }
}

async fn apply(store: &dyn ReadStore, events: &[Event]) {
    store.apply("contract", events, &[]).await.expect("apply");
}

pub async fn uploads_publish_or_fail(store: Arc<dyn ReadStore>) {
    let mut ev = Events::new();
    let (ok, fail, pending) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    apply(
        &*store,
        &[
            ev.upload("ann", ok, "sunset"),
            ev.upload("bob", fail, "x"),
            ev.upload("cy", pending, "p"),
        ],
    )
    .await;
    apply(&*store, &[ev.converted(ok), ev.failed(fail, "corrupt png")]).await;
    let post = store.post(ok).await.expect("read").expect("exists");
    assert_eq!(
        (post.status, post.creator.as_str(), post.caption.as_str()),
        (PostStatus::Published, "ann", "sunset")
    );
    assert_eq!(
        post.image_key.as_deref(),
        Some(format!("images/{ok}.jpg").as_str())
    );
    let failed = store.post(fail).await.expect("read").expect("exists");
    assert_eq!(
        (failed.status, failed.failure_reason.as_deref()),
        (PostStatus::Failed, Some("corrupt png"))
    );
    assert_eq!(
        store.post(pending).await.expect("read").map(|p| p.status),
        Some(PostStatus::Processing)
    );
    let feed: Vec<Uuid> = store
        .feed(None, 10)
        .await
        .expect("feed")
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(feed, vec![ok], "only published posts are in the feed");
    assert_eq!(store.post(Uuid::new_v4()).await.expect("read"), None);
}

pub async fn results_that_arrive_before_the_upload_wait_for_it(store: Arc<dyn ReadStore>) {
    let mut ev = Events::new();
    let post = Uuid::new_v4();
    let converted = ev.converted(post);
    let (_, comment) = ev.comment("bob", post, "early");
    apply(&*store, &[converted, comment]).await;
    assert_eq!(
        store.post(post).await.expect("read"),
        None,
        "not visible before its upload"
    );
    assert!(store.feed(None, 10).await.expect("feed").is_empty());
    apply(&*store, &[ev.upload("ann", post, "late")]).await;
    let view = store.post(post).await.expect("read").expect("visible now");
    assert_eq!(
        (view.status, view.comment_count, view.caption.as_str()),
        (PostStatus::Published, 1, "late")
    );
}

pub async fn feed_order_and_tie_breaks(store: Arc<dyn ReadStore>) {
    let mut ev = Events::new();
    let mut posts = Vec::new();
    let mut events = Vec::new();
    for (i, comments) in [2usize, 0, 2, 1, 0].iter().enumerate() {
        let (post, mut e) = ev.published("ann", &format!("p{i}"));
        for c in 0..*comments {
            e.push(ev.comment("bob", post, &format!("c{c}")).1);
        }
        events.extend(e);
        posts.push(post);
    }
    apply(&*store, &events).await;
    let page: Vec<Uuid> = store
        .feed(None, 10)
        .await
        .expect("feed")
        .iter()
        .map(|p| p.id)
        .collect();
    // Most comments first; equal counts: newest first.
    assert_eq!(page, vec![posts[2], posts[0], posts[3], posts[4], posts[1]]);
    let mut walked = Vec::new();
    let mut after: Option<FeedKey> = None;
    loop {
        let chunk = store.feed(after, 2).await.expect("page");
        if chunk.is_empty() {
            break;
        }
        after = chunk.last().map(|p| p.feed_key());
        walked.extend(chunk.iter().map(|p| p.id));
    }
    assert_eq!(walked, page, "keyset pages add up to the whole feed");
}

pub async fn last_two_comments_follow_adds_and_deletes(store: Arc<dyn ReadStore>) {
    let mut ev = Events::new();
    let (post, events) = ev.published("ann", "p");
    apply(&*store, &events).await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let (id, e) = ev.comment("bob", post, text);
        apply(&*store, &[e]).await;
        ids.push(id);
    }
    let view = store.post(post).await.expect("read").expect("post");
    let texts: Vec<&str> = view.last_comments.iter().map(|c| c.content.as_str()).collect();
    assert_eq!((view.comment_count, texts), (3, vec!["three", "two"]));
    apply(&*store, &[ev.delete("bob", post, ids[2])]).await;
    let view = store.post(post).await.expect("read").expect("post");
    let texts: Vec<&str> = view.last_comments.iter().map(|c| c.content.as_str()).collect();
    assert_eq!((view.comment_count, texts), (2, vec!["two", "one"]));
    assert_eq!(
        store
            .comment(post, ids[2])
            .await
            .expect("read")
            .map(|c| c.deleted),
        Some(true)
    );
}

pub async fn only_the_author_deletes_a_comment(store: Arc<dyn ReadStore>) {
    let mut ev = Events::new();
    let (post, mut events) = ev.published("ann", "p");
    let (comment, added) = ev.comment("bob", post, "mine");
    events.push(added);
    apply(&*store, &events).await;
    let report = store
        .apply("contract", &[ev.delete("mallory", post, comment)], &[])
        .await
        .expect("apply");
    assert_eq!(report.rejected, 1);
    let view = store.post(post).await.expect("read").expect("post");
    assert_eq!((view.comment_count, view.last_comments.len()), (1, 1));
    assert_eq!(
        store
            .comment(post, comment)
            .await
            .expect("read")
            .map(|c| c.deleted),
        Some(false)
    );
}

pub async fn duplicates_have_their_effect_once(store: Arc<dyn ReadStore>) {
    let mut ev = Events::new();
    let (post, mut events) = ev.published("ann", "p");
    let (comment, added) = ev.comment("bob", post, "hi");
    events.push(added.clone());
    let deleted = ev.delete("bob", post, comment);
    apply(&*store, &events).await;
    apply(&*store, &events).await;
    apply(&*store, &[added.clone(), added]).await;
    assert_eq!(
        store.post(post).await.expect("read").expect("post").comment_count,
        1
    );
    apply(&*store, &[deleted.clone(), deleted]).await;
    assert_eq!(
        store.post(post).await.expect("read").expect("post").comment_count,
        0
    );
}

fn advance(topic: &str, partition: u32, from: u64, to: u64) -> Advance {
    Advance {
        topic: topic.into(),
        partition,
        from,
        to,
    }
}

pub async fn positions_commit_with_the_batch(store: Arc<dyn ReadStore>) {
    let mut ev = Events::new();
    let (_, events) = ev.published("ann", "p");
    assert!(store.positions("proj-a").await.expect("read").is_empty());
    let first = [
        advance("imagegram.uploads", 0, 0, 1),
        advance("imagegram.images", 3, 0, 1),
    ];
    store.apply("proj-a", &events, &first).await.expect("apply");
    store
        .apply("proj-a", &[], &[advance("imagegram.uploads", 0, 1, 9)])
        .await
        .expect("apply");
    let mut got = store.positions("proj-a").await.expect("read");
    got.sort();
    assert_eq!(
        got,
        vec![
            Position::new("imagegram.images", 3, 1),
            Position::new("imagegram.uploads", 0, 9)
        ]
    );
    assert!(
        store.positions("proj-b").await.expect("read").is_empty(),
        "positions are per projection"
    );
}

pub async fn a_second_projector_backs_off_and_applies_nothing(store: Arc<dyn ReadStore>) {
    let mut ev = Events::new();
    let (post, mut events) = ev.published("ann", "p");
    store
        .apply("proj", &events, &[advance("t", 0, 0, 2)])
        .await
        .expect("first projector");
    let (_, comment) = ev.comment("bob", post, "hi");
    events = vec![comment];
    // Both read from offset 2; the first to commit wins.
    store
        .apply("proj", &events, &[advance("t", 0, 2, 3)])
        .await
        .expect("winner");
    let loser = store.apply("proj", &events, &[advance("t", 0, 2, 3)]).await;
    assert!(matches!(loser, Err(StoreError::Conflict(_))), "{loser:?}");
    let fresh = store.apply("proj", &events, &[advance("t", 0, 0, 3)]).await;
    assert!(
        matches!(fresh, Err(StoreError::Conflict(_))),
        "a stale first batch conflicts too: {fresh:?}"
    );
    assert_eq!(
        store.post(post).await.expect("read").expect("post").comment_count,
        1
    );
    assert_eq!(
        store.positions("proj").await.expect("read"),
        vec![Position::new("t", 0, 3)]
    );
}

pub async fn idempotency_claims(store: Arc<dyn ReadStore>) {
    let key = Uuid::new_v4().to_string();
    assert_eq!(
        store.claim_request("ann", &key, "h1").await.expect("claim"),
        Claim::Fresh
    );
    assert_eq!(
        store.claim_request("ann", &key, "h1").await.expect("claim"),
        Claim::InFlight
    );
    assert_eq!(
        store.claim_request("ann", &key, "h2").await.expect("claim"),
        Claim::Conflict
    );
    assert_eq!(
        store.claim_request("bob", &key, "h2").await.expect("claim"),
        Claim::Fresh,
        "keys are per user"
    );
    store.release_request("ann", &key).await.expect("release");
    assert_eq!(
        store.claim_request("ann", &key, "h3").await.expect("claim"),
        Claim::Fresh,
        "released keys are free"
    );
    store
        .complete_request("ann", &key, "{\"id\":1}")
        .await
        .expect("complete");
    assert_eq!(
        store.claim_request("ann", &key, "h3").await.expect("claim"),
        Claim::Replay("{\"id\":1}".into())
    );
    store
        .release_request("ann", &key)
        .await
        .expect("release is a no-op once complete");
    assert_eq!(
        store.claim_request("ann", &key, "h3").await.expect("claim"),
        Claim::Replay("{\"id\":1}".into())
    );
}

pub async fn concurrent_claims_have_one_winner(store: Arc<dyn ReadStore>) {
    let key = Uuid::new_v4().to_string();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (store, key) = (Arc::clone(&store), key.clone());
        tasks.push(tokio::spawn(async move {
            store.claim_request("ann", &key, "same").await.expect("claim")
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        if t.await.expect("task") == Claim::Fresh {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1);
}

pub async fn processed_marks(store: Arc<dyn ReadStore>) {
    let id = Uuid::new_v4();
    assert!(!store.is_processed("conv", id).await.expect("read"));
    store.mark_processed("conv", id).await.expect("mark");
    store
        .mark_processed("conv", id)
        .await
        .expect("marking twice is fine");
    assert!(store.is_processed("conv", id).await.expect("read"));
    assert!(!store.is_processed("other", id).await.expect("read"));
}

pub async fn uploads_advance_by_compare_and_set(store: Arc<dyn ReadStore>) {
    let mut upload = Upload {
        id: Uuid::new_v4(),
        owner: "ann".into(),
        length: None,
        offset: 0,
        parts: Vec::new(),
        metadata: "caption aGk=".into(),
        created_at: 10,
        expires_at: 1_000,
        post_id: None,
    };
    store.create_upload(&upload).await.expect("create");
    assert_eq!(store.upload(upload.id).await.expect("read"), Some(upload.clone()));
    upload.offset = 5;
    upload.parts = vec!["a1".into(), "b2".into()];
    upload.length = Some(9);
    assert!(store.advance_upload(&upload, 0).await.expect("advance"));
    let mut stale = upload.clone();
    stale.offset = 7;
    assert!(
        !store.advance_upload(&stale, 0).await.expect("a stale advance"),
        "its offset moved"
    );
    assert_eq!(store.upload(upload.id).await.expect("read"), Some(upload.clone()));
    let post = Uuid::new_v4();
    store.set_upload_post(upload.id, post).await.expect("post");
    assert_eq!(
        store
            .upload(upload.id)
            .await
            .expect("read")
            .and_then(|u| u.post_id),
        Some(post)
    );
    assert!(store.expired_uploads(1_000, 10).await.expect("sweep").is_empty());
    let expired = store.expired_uploads(1_001, 10).await.expect("sweep");
    assert!(expired.iter().any(|u| u.id == upload.id));
    store.delete_upload(upload.id).await.expect("delete");
    assert_eq!(store.upload(upload.id).await.expect("read"), None);
}

#[macro_export]
macro_rules! read_contract_suite {
    ($store:expr) => {
        $crate::read_contract_suite!(@tests $store;
            uploads_publish_or_fail, results_that_arrive_before_the_upload_wait_for_it,
            feed_order_and_tie_breaks, last_two_comments_follow_adds_and_deletes,
            only_the_author_deletes_a_comment, duplicates_have_their_effect_once,
            positions_commit_with_the_batch, a_second_projector_backs_off_and_applies_nothing, idempotency_claims, concurrent_claims_have_one_winner,
            processed_marks, uploads_advance_by_compare_and_set);
    };
    (@tests $store:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                match $store {
                    Some(store) => contract::$name(store).await,
                    None => eprintln!("skipped {}: its service is not configured", stringify!($name)),
                }
            }
        )*
    };
}
