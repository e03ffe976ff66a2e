//! How events become posts, comments and the feed.

use imagegram_readstore::{FeedKey, PostStatus, ReadModel, ReadStores};
use uuid::Uuid;

use super::{apply, Events};

pub async fn uploads_publish_or_fail(stores: ReadStores) {
    let store = stores.model;
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
    let feed = first_page_ids(&*store).await;
    assert_eq!(feed, vec![ok], "only published posts are in the feed");
    assert_eq!(store.post(Uuid::new_v4()).await.expect("read"), None);
}

pub async fn results_that_arrive_before_the_upload_wait_for_it(stores: ReadStores) {
    let store = stores.model;
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

pub async fn feed_order_and_tie_breaks(stores: ReadStores) {
    let store = stores.model;
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
    let page = first_page_ids(&*store).await;
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

pub async fn last_two_comments_follow_adds_and_deletes(stores: ReadStores) {
    let store = stores.model;
    let mut ev = Events::new();
    let (post, events) = ev.published("ann", "p");
    apply(&*store, &events).await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let (id, e) = ev.comment("bob", post, text);
        apply(&*store, &[e]).await;
        ids.push(id);
    }
    assert_eq!(
        count_and_last(&*store, post).await,
        (3, vec!["three".into(), "two".into()])
    );
    apply(&*store, &[ev.delete("bob", post, ids[2])]).await;
    assert_eq!(
        count_and_last(&*store, post).await,
        (2, vec!["two".into(), "one".into()])
    );
    assert_eq!(deleted(&*store, post, ids[2]).await, Some(true));
}

pub async fn only_the_author_deletes_a_comment(stores: ReadStores) {
    let store = stores.model;
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
    assert_eq!(deleted(&*store, post, comment).await, Some(false));
}

pub async fn duplicates_have_their_effect_once(stores: ReadStores) {
    let store = stores.model;
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

/// The ids on the feed's first page of ten.
async fn first_page_ids(store: &dyn ReadModel) -> Vec<Uuid> {
    let page = store.feed(None, 10).await.expect("feed");
    page.iter().map(|p| p.id).collect()
}

/// A post's comment count and the text of its last comments, newest first.
async fn count_and_last(store: &dyn ReadModel, post: Uuid) -> (i64, Vec<String>) {
    let view = store.post(post).await.expect("read").expect("post");
    let texts = view.last_comments.into_iter().map(|c| c.content).collect();
    (view.comment_count, texts)
}

/// Whether a comment is marked deleted, or `None` when the store never saw it.
async fn deleted(store: &dyn ReadModel, post: Uuid, comment: Uuid) -> Option<bool> {
    let found = store.comment(post, comment).await.expect("read");
    found.map(|c| c.deleted)
}
