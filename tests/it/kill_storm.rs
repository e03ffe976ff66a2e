//! kill -9 of any role under a mixed storm, in the distributed mode: two
//! gateways behind a round-robin balancer, two converters and two
//! projectors on Kafka, MariaDB and S3, under uploads, comments, deletes
//! and feed reads. Mid-storm one of each role is killed (SIGKILL) and
//! started again: the consumer groups lose a member and get one back.
//! Clients retry as they should (keyed writes, `Retry-After`). Afterwards
//! every acknowledged write is in the read model exactly once, and every
//! upload ended published (or failed, for the broken images sent).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagegram_readstore::{ReadModel, SqlStore};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::cluster::{Balancer, Cluster};
use crate::support::{image_form, png, publish};

/// How long the storm blows.
const STORM: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Record {
    /// Post id, and whether its image was broken on purpose.
    uploads: Vec<(Uuid, bool)>,
    /// Acknowledged comments by post, and the ones deleted since.
    comments: HashMap<Uuid, Vec<Uuid>>,
    deleted: HashSet<Uuid>,
    reads: usize,
    /// Feed reads that got no answer (the balancer's gateway killed under
    /// them): counted, and printed.
    reads_unanswered: usize,
    /// Answers no client should see (500s, or anything unexpected).
    wrong: Vec<String>,
}

type Shared = Arc<Mutex<Record>>;

fn record(shared: &Shared) -> std::sync::MutexGuard<'_, Record> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sends what `request` builds until the answer is one of `ok`: after a
/// lost connection (a killed gateway), a 503 or a 409 (a key whose holder
/// died), it waits and sends again, through the balancer to the next
/// gateway. Anything else is noted as wrong and given up.
async fn until_acknowledged(
    request: impl Fn() -> RequestBuilder,
    ok: &[StatusCode],
    shared: &Shared,
) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        let response = match request().timeout(Duration::from_secs(30)).send().await {
            Ok(response) => response,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let status = response.status();
        if ok.contains(&status) {
            return Some(response.json().await.unwrap_or(Value::Null));
        }
        if matches!(status, StatusCode::SERVICE_UNAVAILABLE | StatusCode::CONFLICT) {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        let body = response.text().await.unwrap_or_default();
        record(shared).wrong.push(format!("{status}: {body}"));
        return None;
    }
    record(shared).wrong.push("not acknowledged within 90 s".into());
    None
}

async fn uploader(base: String, token: String, shared: Shared, until: Instant) {
    let client = Balancer::client();
    let mut n = 0;
    while Instant::now() < until {
        let broken = n % 6 == 5;
        let key = Uuid::new_v4().to_string();
        let image = move || {
            let mut bytes = png(160 + n, 120);
            if broken {
                bytes.truncate(bytes.len() / 2);
            }
            image_form(bytes, "storm.png", &format!("storm {n}"))
        };
        let sent = until_acknowledged(
            || {
                client
                    .post(format!("{base}/v1/posts"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &key)
                    .multipart(image())
            },
            &[StatusCode::ACCEPTED, StatusCode::CREATED],
            &shared,
        )
        .await;
        if let Some(id) = sent.and_then(|post| post["id"].as_str().and_then(|id| id.parse().ok())) {
            record(&shared).uploads.push((id, broken));
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

async fn commenter(base: String, token: String, posts: Vec<Uuid>, shared: Shared, until: Instant) {
    let client = Balancer::client();
    let mut n = 0usize;
    while Instant::now() < until {
        let post = posts[n % posts.len()];
        let key = Uuid::new_v4().to_string();
        let added = until_acknowledged(
            || {
                client
                    .post(format!("{base}/v1/posts/{post}/comments"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", &key)
                    .json(&json!({ "content": format!("storm comment {n}") }))
            },
            &[StatusCode::CREATED],
            &shared,
        )
        .await;
        let Some(id) = added.and_then(|c| c["id"].as_str().and_then(|id| id.parse::<Uuid>().ok())) else {
            n += 1;
            continue;
        };
        record(&shared).comments.entry(post).or_default().push(id);
        // Every fourth comment is deleted again by its author.
        if n % 4 == 3 {
            let deleted = until_acknowledged(
                || {
                    client
                        .delete(format!("{base}/v1/posts/{post}/comments/{id}"))
                        .bearer_auth(&token)
                },
                &[StatusCode::NO_CONTENT, StatusCode::ACCEPTED],
                &shared,
            )
            .await;
            if deleted.is_some() {
                record(&shared).deleted.insert(id);
            }
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn reader(base: String, shared: Shared, until: Instant) {
    let client = Balancer::client();
    while Instant::now() < until {
        match client.get(format!("{base}/v1/posts?limit=20")).send().await {
            Ok(response) => match response.status() {
                StatusCode::OK => record(&shared).reads += 1,
                StatusCode::SERVICE_UNAVAILABLE => {}
                other => record(&shared).wrong.push(format!("feed: {other}")),
            },
            Err(_) => record(&shared).reads_unanswered += 1,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_each_role_under_a_mixed_storm() {
    let Some(env) = Cluster::environment("kill_9_of_each_role") else {
        return;
    };
    let mut cluster = Cluster::new(env);
    let (converter, projector) = (cluster.add_worker("process"), cluster.add_worker("project"));
    cluster.add_worker("process");
    cluster.add_worker("project");
    cluster.add_gateway();
    cluster.add_gateway();
    let balancer = Balancer::round_robin(cluster.gateways.iter().map(|g| g.base.clone()).collect()).await;
    let (ann, bob) = (cluster.token("ann"), cluster.token("bob"));
    let mut posts = Vec::new();
    for i in 0..3 {
        let post = publish(&cluster.gateways[i % 2], &ann, &format!("seed {i}")).await;
        posts.push(
            post["id"]
                .as_str()
                .and_then(|id| id.parse::<Uuid>().ok())
                .expect("id"),
        );
    }

    let shared = Shared::default();
    let until = Instant::now() + STORM;
    let storm = vec![
        tokio::spawn(uploader(
            balancer.base.clone(),
            ann.clone(),
            Arc::clone(&shared),
            until,
        )),
        tokio::spawn(commenter(
            balancer.base.clone(),
            bob.clone(),
            posts.clone(),
            Arc::clone(&shared),
            until,
        )),
        tokio::spawn(reader(balancer.base.clone(), Arc::clone(&shared), until)),
    ];
    tokio::time::sleep(STORM / 3).await;
    let at_kill = {
        let r = record(&shared);
        (r.uploads.len(), r.comments.values().map(Vec::len).sum::<usize>())
    };
    tokio::task::block_in_place(|| {
        cluster.gateways[0].kill();
        cluster.kill_and_restart_worker(converter, Duration::from_secs(1));
        cluster.kill_and_restart_worker(projector, Duration::from_millis(200));
        cluster.gateways[0].restart();
    });
    balancer.replace(0, &cluster.gateways[0].base);
    for task in storm {
        task.await.expect("storm task");
    }
    let shared = std::mem::take(&mut *record(&shared));
    assert!(
        shared.wrong.is_empty(),
        "answers no client should see: {:?}",
        shared.wrong
    );

    // Every upload ends: published, or failed for the broken ones.
    let store = SqlStore::connect(cluster.database_url(), 2).await.expect("mysql");
    let deadline = Instant::now() + Duration::from_secs(120);
    for (post, broken) in &shared.uploads {
        loop {
            let view = store.post(*post).await.expect("read").map(|v| v.status);
            let settled = matches!(
                view,
                Some(imagegram_readstore::PostStatus::Published | imagegram_readstore::PostStatus::Failed)
            );
            if settled {
                let expected = if *broken {
                    imagegram_readstore::PostStatus::Failed
                } else {
                    imagegram_readstore::PostStatus::Published
                };
                assert_eq!(view, Some(expected), "post {post}");
                break;
            }
            assert!(Instant::now() < deadline, "post {post} never ended: {view:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Every acknowledged comment once, the deleted ones gone from the count.
    for post in &posts {
        let acknowledged = shared.comments.get(post).cloned().unwrap_or_default();
        let live = acknowledged
            .iter()
            .filter(|c| !shared.deleted.contains(c))
            .count() as i64;
        let mut count = -1;
        while Instant::now() < deadline {
            count = store
                .post(*post)
                .await
                .expect("read")
                .map_or(-1, |v| v.comment_count);
            if count == live {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(count, live, "post {post}: live comments");
        for comment in &acknowledged {
            let state = store.comment(*post, *comment).await.expect("read");
            let deleted = shared.deleted.contains(comment);
            assert!(
                state.as_ref().is_some_and(|s| s.deleted == deleted) || (deleted && state.is_none()),
                "comment {comment}: {state:?}, deleted: {deleted}"
            );
        }
    }
    let comments: usize = shared.comments.values().map(Vec::len).sum();
    eprintln!(
        "storm: {} uploads ({} before the kills), {comments} comments ({} before), {} deleted, {} feed reads ({} unanswered); all settled",
        shared.uploads.len(),
        at_kill.0,
        at_kill.1,
        shared.deleted.len(),
        shared.reads,
        shared.reads_unanswered
    );
    // The feed was read all through the storm (the README's "reads kept up").
    assert!(shared.reads > 0, "no feed read was answered during the storm");
    // The kills landed mid-storm: writes acknowledged before them and after.
    assert!(
        at_kill.0 > 0 && at_kill.1 > 0,
        "nothing was acknowledged before the kills: {at_kill:?}"
    );
    assert!(
        shared.uploads.len() > at_kill.0 && comments > at_kill.1,
        "nothing was acknowledged after the kills: {at_kill:?}"
    );
}
