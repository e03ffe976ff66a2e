//! Positions, idempotency claims, processed marks and upload records.

use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::Position;
use imagegram_readstore::{Advance, Claim, IdempotencyKeys, ReadStores, StoreError, Upload};
use uuid::Uuid;

use super::Events;

/// Longer than any test runs: a claim held this long stays in flight.
const LEASE: Duration = Duration::from_secs(600);

async fn claim(store: &dyn IdempotencyKeys, user: &str, key: &str, hash: &str, lease: Duration) -> Claim {
    store.claim_request(user, key, hash, lease).await.expect("claim")
}

/// Stores `answer` for `user`'s claimed `key`, and checks that the next
/// claim with the same request replays it.
async fn answered_then_replayed(
    store: &dyn IdempotencyKeys,
    user: &str,
    key: &str,
    hash: &str,
    answer: &str,
) {
    store.complete_request(user, key, answer).await.expect("complete");
    assert_eq!(
        claim(store, user, key, hash, LEASE).await,
        Claim::Replay(answer.into())
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

pub async fn positions_commit_with_the_batch(stores: ReadStores) {
    let store = stores.model;
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

pub async fn a_second_projector_backs_off_and_applies_nothing(stores: ReadStores) {
    let store = stores.model;
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

pub async fn idempotency_claims(stores: ReadStores) {
    let store = stores.keys;
    let key = Uuid::new_v4().to_string();
    assert_eq!(claim(&*store, "ann", &key, "h1", LEASE).await, Claim::Fresh);
    assert_eq!(claim(&*store, "ann", &key, "h1", LEASE).await, Claim::InFlight);
    assert_eq!(claim(&*store, "ann", &key, "h2", LEASE).await, Claim::Conflict);
    assert_eq!(
        claim(&*store, "bob", &key, "h2", LEASE).await,
        Claim::Fresh,
        "keys are per user"
    );
    store.release_request("ann", &key).await.expect("release");
    assert_eq!(
        claim(&*store, "ann", &key, "h3", LEASE).await,
        Claim::Fresh,
        "released keys are free"
    );
    answered_then_replayed(&*store, "ann", &key, "h3", "{\"id\":1}").await;
    store
        .release_request("ann", &key)
        .await
        .expect("release is a no-op once complete");
    assert_eq!(
        claim(&*store, "ann", &key, "h3", LEASE).await,
        Claim::Replay("{\"id\":1}".into())
    );
}

/// A claim holds from the moment it is decided, before the store says it
/// is stored: the next claim of the key is in flight, and once stored the
/// claim answers as any other.
pub async fn a_decided_claim_holds_before_it_is_stored(stores: ReadStores) {
    let store = stores.keys;
    let key = Uuid::new_v4().to_string();
    let (first, stored) = store.decide_claim("ann", &key, "h", LEASE).await.expect("decide");
    assert_eq!(first, Claim::Fresh);
    let (second, unchanged) = store.decide_claim("ann", &key, "h", LEASE).await.expect("decide");
    assert_eq!(second, Claim::InFlight, "held before it is stored");
    stored.wait().await.expect("stored");
    unchanged.wait().await.expect("nothing to store");
    answered_then_replayed(&*store, "ann", &key, "h", "{\"id\":2}").await;
}

pub async fn concurrent_claims_have_one_winner(stores: ReadStores) {
    let store = stores.keys;
    let key = Uuid::new_v4().to_string();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (store, key) = (Arc::clone(&store), key.clone());
        tasks.push(tokio::spawn(async move {
            claim(&*store, "ann", &key, "same", LEASE).await
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        if t.await.expect("task") == Claim::Fresh {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1);

    // Many keys at once, as a gateway under load claims them (claims and
    // answers written together in batches): one winner per key, and once
    // each winner's answer is in, every later claim replays it.
    let keys: Vec<String> = (0..10).map(|_| Uuid::new_v4().to_string()).collect();
    let mut tasks = Vec::new();
    for key in keys.iter().flat_map(|k| std::iter::repeat_n(k.clone(), 6)) {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let got = claim(&*store, "bob", &key, "same", LEASE).await;
            if got == Claim::Fresh {
                store
                    .complete_request("bob", &key, &format!("{{\"key\":\"{key}\"}}"))
                    .await
                    .expect("answer kept");
            }
            got
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        let got = t.await.expect("task");
        assert!(
            matches!(got, Claim::Fresh | Claim::InFlight | Claim::Replay(_)),
            "{got:?}"
        );
        fresh += usize::from(got == Claim::Fresh);
    }
    assert_eq!(fresh, keys.len(), "one winner per key");
    for key in &keys {
        assert_eq!(
            claim(&*store, "bob", key, "same", LEASE).await,
            Claim::Replay(format!("{{\"key\":\"{key}\"}}"))
        );
    }
}

/// A claim whose lease ran out unanswered (its holder died or its client
/// left) is taken over by exactly one of the retries racing for it.
pub async fn an_expired_claim_is_taken_over_once(stores: ReadStores) {
    let store = stores.keys;
    let key = Uuid::new_v4().to_string();
    let ann_claims = |lease| {
        let (store, key) = (Arc::clone(&store), key.clone());
        async move { claim(&*store, "ann", &key, "same", lease).await }
    };
    assert_eq!(ann_claims(Duration::ZERO).await, Claim::Fresh);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        tasks.push(tokio::spawn(ann_claims(LEASE)));
    }
    let mut fresh = 0;
    for t in tasks {
        if t.await.expect("task") == Claim::Fresh {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "one retry takes the expired claim over");
    assert_eq!(
        ann_claims(LEASE).await,
        Claim::InFlight,
        "the new holder's lease runs"
    );
    assert_eq!(
        ann_claims(LEASE).await,
        Claim::InFlight,
        "and is not taken over while it runs"
    );
    // A holder renews before its lease ends; once answered, renewing changes nothing.
    let other = Uuid::new_v4().to_string();
    assert_eq!(
        claim(&*store, "bob", &other, "h", Duration::ZERO).await,
        Claim::Fresh
    );
    store.renew_request("bob", &other, LEASE).await.expect("renew");
    assert_eq!(
        claim(&*store, "bob", &other, "h", LEASE).await,
        Claim::InFlight,
        "a renewed claim is held"
    );
    store
        .complete_request("bob", &other, "{}")
        .await
        .expect("complete");
    store.renew_request("bob", &other, LEASE).await.expect("renew");
    assert_eq!(
        claim(&*store, "bob", &other, "h", LEASE).await,
        Claim::Replay("{}".into())
    );
}

pub async fn processed_marks(stores: ReadStores) {
    let store = stores.requests;
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

/// Old answered keys and processed marks are pruned, a held claim is not;
/// daily bytes add up per user and day; open uploads are counted.
pub async fn pruning_and_quotas(stores: ReadStores) {
    let (keys, requests, uploads) = (stores.keys, stores.requests, stores.uploads);
    let later = imagegram_schemas::now_us() + 3_600_000_000;
    let (held, answered, lapsed, young) = (
        Uuid::new_v4().to_string(),
        Uuid::new_v4().to_string(),
        Uuid::new_v4().to_string(),
        Uuid::new_v4().to_string(),
    );
    assert_eq!(claim(&*keys, "ann", &held, "h", LEASE).await, Claim::Fresh);
    assert_eq!(claim(&*keys, "ann", &answered, "h", LEASE).await, Claim::Fresh);
    keys.complete_request("ann", &answered, "{}")
        .await
        .expect("complete");
    assert_eq!(
        claim(&*keys, "ann", &lapsed, "h", Duration::ZERO).await,
        Claim::Fresh
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(keys.prune_requests(later).await.expect("prune"), 2);
    assert_eq!(
        claim(&*keys, "ann", &held, "h", LEASE).await,
        Claim::InFlight,
        "a held claim stays"
    );
    assert_eq!(
        claim(&*keys, "ann", &answered, "h", LEASE).await,
        Claim::Fresh,
        "a pruned key is new"
    );
    assert_eq!(
        claim(&*keys, "ann", &lapsed, "other", LEASE).await,
        Claim::Fresh,
        "so is a pruned claim whose lease ran out"
    );
    let now = imagegram_schemas::now_us();
    assert_eq!(claim(&*keys, "ann", &young, "h", LEASE).await, Claim::Fresh);
    keys.complete_request("ann", &young, "{}")
        .await
        .expect("complete");
    assert_eq!(
        keys.prune_requests(now - 1_000_000).await.expect("prune"),
        0,
        "keys made after the cut stay"
    );

    let event = Uuid::new_v4();
    requests.mark_processed("c", event).await.expect("mark");
    assert_eq!(requests.prune_processed(later).await.expect("prune"), 1);
    assert!(!requests.is_processed("c", event).await.expect("read"));

    requests.add_daily_bytes("ann", 20_000, 100).await.expect("add");
    requests.add_daily_bytes("ann", 20_000, 250).await.expect("add");
    requests.add_daily_bytes("bob", 20_000, 7).await.expect("add");
    assert_eq!(requests.daily_bytes("ann", 20_000).await.expect("read"), 350);
    assert_eq!(requests.daily_bytes("ann", 20_001).await.expect("read"), 0);
    assert_eq!(requests.daily_bytes("bob", 20_000).await.expect("read"), 7);

    let now = imagegram_schemas::now_us();
    let open = |owner: &str, expires_at: i64| Upload {
        id: Uuid::new_v4(),
        owner: owner.into(),
        length: None,
        offset: 0,
        metadata: String::new(),
        created_at: now,
        expires_at,
        post_id: None,
        first_part: None,
    };
    for upload in [
        open("ann", later),
        open("ann", later),
        open("ann", now - 1),
        open("bob", later),
    ] {
        uploads.create_upload(&upload).await.expect("create");
    }
    assert_eq!(
        uploads.open_uploads(Some("ann"), now).await.expect("count"),
        2,
        "the expired one is not open"
    );
    assert_eq!(uploads.open_uploads(Some("bob"), now).await.expect("count"), 1);
    assert_eq!(
        uploads.open_uploads(None, now).await.expect("count"),
        3,
        "everyone's"
    );
}

/// Gateways are found while fresh, renewed in place, and gone once
/// withdrawn or stale.
pub async fn the_gateway_directory(stores: ReadStores) {
    let dir = &*stores.gateways;
    let (a, b) = (u64::MAX - 7, 42); // ids use all 64 bits
    let fresh = Duration::from_secs(30);
    assert_eq!(dir.address_of(a, fresh).await.expect("lookup"), None);
    dir.announce(a, "http://10.0.0.1:8080").await.expect("announce");
    dir.announce(b, "http://10.0.0.2:8080").await.expect("announce");
    dir.announce(a, "http://10.0.0.3:8080").await.expect("renew");
    assert_eq!(
        dir.address_of(a, fresh).await.expect("lookup").as_deref(),
        Some("http://10.0.0.3:8080")
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        dir.address_of(a, Duration::from_millis(10))
            .await
            .expect("lookup"),
        None
    );
    dir.withdraw(a).await.expect("withdraw");
    assert_eq!(dir.address_of(a, fresh).await.expect("lookup"), None);
    assert_eq!(
        dir.address_of(b, fresh).await.expect("lookup").as_deref(),
        Some("http://10.0.0.2:8080")
    );
}
