//! MariaDB cut for 10 s under keyed writes and feed reads.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::*;
use serde_json::Value;

use crate::support::publish;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_away_for_10_s_during_writes_and_reads() {
    let Some((cluster, database)) = behind_a_cut("the_database_away", "IMAGEGRAM_DATABASE_URL").await else {
        return;
    };
    let gateway = &cluster.gateways[0];
    let (ann, bob) = (cluster.token("ann"), cluster.token("bob"));
    let post = publish(gateway, &ann, "before the outage").await;
    let post = post["id"].as_str().expect("id").to_owned();
    let writer = keep_commenting(gateway, &bob, &post, OUTAGE + Duration::from_secs(10));
    tokio::time::sleep(Duration::from_secs(1)).await;

    database.cut();
    let down_at = Instant::now();
    let (status, checks) = readiness(gateway).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{checks}");
    assert_eq!(checks["checks"]["read_store"], "unavailable", "{checks}");
    assert_eq!(checks["checks"]["log"], "ok", "{checks}");
    // The feed answers from the gateway's cache while the database is away.
    let mut feed_answers = Vec::new();
    while down_at.elapsed() < OUTAGE {
        let response = reqwest::get(gateway.url("/v1/posts?limit=10"))
            .await
            .expect("feed answers");
        let status = response.status();
        if status == StatusCode::OK {
            let page: Value = response.json().await.expect("json");
            assert_eq!(page["items"][0]["id"], post.as_str());
        } else {
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "feed: 200 or 503");
            assert!(response.headers().contains_key("retry-after"));
        }
        feed_answers.push(status);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    database.restore();
    let back_at = Instant::now();

    let (tally, gateway_back, pipeline_back) =
        writes_came_through(gateway, &ann, &post, writer, back_at).await;
    let served = feed_answers.iter().filter(|s| **s == StatusCode::OK).count();
    eprintln!(
        "database away {:?}: feed answered {served} of {} reads from the cache; {} comments acknowledged, {} answers 503; after its return: gateway writing in {gateway_back:?}, a new post published in {pipeline_back:?}",
        back_at - down_at,
        feed_answers.len(),
        tally.acknowledged,
        tally.unavailable,
    );
    assert_eq!(
        served,
        feed_answers.len(),
        "the first feed page is served from the cache"
    );
    let (status, checks) = readiness(gateway).await;
    assert_eq!(status, StatusCode::OK, "{checks}");
}
