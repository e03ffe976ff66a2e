//! Feed paging through any gateway: three `imagegram ingest` processes
//! and a projector on Kafka + MariaDB + S3, behind a round-robin balancer
//! that knows nothing of Imagegram. A walk through the feed, each page
//! from the next gateway while comments keep moving posts, gives every
//! post exactly once and never a 410; a snapshot's owner forwards pages
//! to the others. With the owner killed or stopped, the answer is a 410
//! problem saying to start again.

use std::collections::HashMap;
use std::time::Duration;

use imagegram_readstore::{ReadModel, SqlStore};
use imagegram_testkit::workload::{workload, Rng};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::cluster::{Balancer, Cluster};
use crate::support::{fill_log, page_ids};

const POSTS: usize = 120;

/// A deployment with `POSTS` published posts in its read model, projected,
/// and three gateways that loaded them.
async fn three_gateways(test: &str) -> Option<(Cluster, Vec<String>)> {
    let env = Cluster::environment(test)?;
    let mut cluster = Cluster::new(env);
    let work = workload(POSTS, 300, 11);
    let data = tempfile::tempdir().expect("temp dir");
    fill_log(data.path(), &cluster.env, &work.events).await;
    cluster.add_worker("project");
    let store = SqlStore::connect(cluster.database_url(), 2).await.expect("mysql");
    let total = work.events.len() as u64;
    imagegram_testkit::caught_up(
        &store as &dyn ReadModel,
        imagegram_projections::READ_MODEL,
        total,
        Duration::from_secs(120),
    )
    .await;
    for _ in 0..3 {
        cluster.add_gateway();
    }
    let posts = work.posts.iter().map(|p| p.to_string()).collect();
    Some((cluster, posts))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_through_round_robin_gateways_gives_every_post_once() {
    let Some((cluster, posts)) = three_gateways("a_walk_through_round_robin_gateways").await else {
        return;
    };
    let balancer = Balancer::round_robin(cluster.gateways.iter().map(|g| g.base.clone()).collect()).await;
    let client = Balancer::client();
    let token = cluster.token("walker");
    let mut rng = Rng::new(3);
    for walk in 0..3 {
        let mut seen: HashMap<String, usize> = HashMap::new();
        let (mut cursor, mut pages, mut forwarded) = (None::<String>, 0, 0);
        loop {
            let path = match &cursor {
                None => "/v1/posts?limit=7".to_owned(),
                Some(c) => format!("/v1/posts?limit=7&cursor={c}"),
            };
            let response = client.get(balancer.url(&path)).send().await.expect("page");
            assert_eq!(response.status(), StatusCode::OK, "walk {walk}, page {pages}");
            forwarded += usize::from(response.headers().contains_key("imagegram-served-by"));
            let page: Value = response.json().await.expect("json");
            for id in page_ids(&page) {
                *seen.entry(id).or_default() += 1;
            }
            pages += 1;
            // Comments move posts between pages, through the balancer too.
            for _ in 0..3 {
                let post = &posts[rng.next_u64() as usize % posts.len()];
                let added = client
                    .post(balancer.url(&format!("/v1/posts/{post}/comments")))
                    .bearer_auth(&token)
                    .json(&json!({ "content": format!("walk {walk} page {pages}") }))
                    .send()
                    .await
                    .expect("comment");
                assert_eq!(added.status(), StatusCode::CREATED);
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), POSTS, "walk {walk}: every post");
        assert!(seen.values().all(|&n| n == 1), "walk {walk}: each once");
        // Three gateways in turn: two of every three next pages were
        // another gateway's snapshot.
        assert!(
            forwarded >= (pages - 1) / 2,
            "walk {walk}: {forwarded} of {pages} pages forwarded"
        );
        eprintln!("walk {walk}: {pages} pages, {forwarded} forwarded to the snapshot's owner");
    }
}

async fn first_page(client: &reqwest::Client, base: &str) -> String {
    let page: Value = client
        .get(format!("{base}/v1/posts?limit=5"))
        .send()
        .await
        .expect("first page")
        .json()
        .await
        .expect("json");
    page["next_cursor"].as_str().expect("more pages").to_owned()
}

async fn assert_start_again(client: &reqwest::Client, base: &str, cursor: &str, case: &str) {
    let response = client
        .get(format!("{base}/v1/posts?limit=5&cursor={cursor}"))
        .send()
        .await
        .expect("next page");
    assert_eq!(response.status(), StatusCode::GONE, "{case}");
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "{case}");
    let problem: Value = response.json().await.expect("problem");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("start again")),
        "{case}: {problem}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_whose_gateway_is_gone_says_start_again() {
    let Some((mut cluster, _)) = three_gateways("a_cursor_whose_gateway_is_gone").await else {
        return;
    };
    let client = reqwest::Client::new();
    let (b1, b2) = (cluster.gateways[1].base.clone(), cluster.gateways[2].base.clone());

    // Its owner answers through another gateway while it lives.
    let cursor = first_page(&client, &cluster.gateways[0].base).await;
    let next = client
        .get(format!("{b1}/v1/posts?limit=5&cursor={cursor}"))
        .send()
        .await
        .expect("forwarded page");
    assert_eq!(next.status(), StatusCode::OK);
    assert!(next.headers().contains_key("imagegram-served-by"));

    // Killed outright: still in the directory, but not answering.
    cluster.gateways[0].kill();
    assert_start_again(&client, &b1, &cursor, "owner killed").await;

    // Stopped: withdrawn from the directory.
    let cursor = first_page(&client, &b1).await;
    cluster.gateways[1].stop_within(Duration::from_secs(10));
    assert_start_again(&client, &b2, &cursor, "owner stopped").await;
}
