//! The broker, a Kafka node of the test's own, stopped (SIGTERM) for 10 s
//! under keyed writes and started again on its data.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::*;
use crate::support::cluster::Cluster;
use crate::support::kafka_node::KafkaNode;
use crate::support::{image_form, png, publish};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_stopped_for_10_s_during_writes() {
    let Some(mut env) = Cluster::environment("the_broker_stopped") else {
        return;
    };
    let Some(kafka) = tokio::task::spawn_blocking(|| KafkaNode::start("the_broker_stopped"))
        .await
        .expect("start")
    else {
        return;
    };
    env.retain(|(k, _)| k != "IMAGEGRAM_KAFKA_BROKERS");
    env.push(("IMAGEGRAM_KAFKA_BROKERS".into(), kafka.brokers()));
    let mut cluster = Cluster::new(env);
    cluster.add_worker("process");
    cluster.add_worker("project");
    let gateway = cluster.add_gateway();
    let gateway = &cluster.gateways[gateway];
    let (ann, bob) = (cluster.token("ann"), cluster.token("bob"));
    let post = publish(gateway, &ann, "before the outage").await;
    let post = post["id"].as_str().expect("id").to_owned();

    // Keyed comments, one after another, through the outage and after it.
    let writer = keep_commenting(gateway, &bob, &post, OUTAGE + Duration::from_secs(12));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut kafka = kafka;
    kafka = tokio::task::spawn_blocking(move || {
        kafka.stop();
        kafka
    })
    .await
    .expect("stop");
    let down_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, checks) = readiness(gateway).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{checks}");
    assert_eq!(checks["checks"]["log"], "unavailable", "{checks}");
    assert_eq!(checks["checks"]["read_store"], "ok", "{checks}");

    // An upload while the broker is away: 503, nothing half-made.
    let upload = reqwest::Client::new()
        .post(gateway.url("/v1/posts"))
        .bearer_auth(&ann)
        .multipart(image_form(png(320, 240), "away.png", "during the outage"))
        .send()
        .await
        .expect("upload answers");
    assert_eq!(upload.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(upload.headers().contains_key("retry-after"));

    tokio::time::sleep(OUTAGE.saturating_sub(down_at.elapsed())).await;
    let mut kafka = tokio::task::spawn_blocking(move || {
        kafka.run();
        kafka
    })
    .await
    .expect("restart");
    let back_at = Instant::now();
    eprintln!(
        "broker down for {:?}, back at {:?}",
        back_at - down_at,
        std::time::SystemTime::now()
    );

    // The converter and the projector: a post made now is published.
    let converted = publish(gateway, &ann, "after the outage").await;
    let converter_back = back_at.elapsed();
    assert_eq!(converted["status"], "published");

    let (tally, acknowledged_at) = writer.await.expect("writer");
    assert!(
        tally.wrong.is_empty(),
        "answers other than 201 or 503: {:?}",
        tally.wrong
    );
    assert!(tally.unavailable > 0, "writes met the outage: {tally:?}");
    let gateway_back = acknowledged_at
        .iter()
        .find(|at| **at > back_at)
        .map(|at| *at - back_at)
        .expect("writes acknowledged after the broker's return");
    // The projector: every acknowledged comment, exactly once.
    let (count, counted_at) = count_reaches(gateway, &post, tally.acknowledged as i64).await;
    assert_eq!(
        count, tally.acknowledged as i64,
        "every acknowledged comment, once"
    );
    eprintln!(
        "{} comments acknowledged, {} answers were 503; after the broker's return: gateway writing in {:?}, converter published in {:?}, projector caught up {:?} after it",
        tally.acknowledged,
        tally.unavailable,
        gateway_back,
        converter_back,
        counted_at.saturating_duration_since(back_at)
    );
    for (role, took) in [("gateway", gateway_back), ("converter", converter_back)] {
        assert!(took <= OUTAGE, "the {role} took {took:?} to recover");
    }
    let (status, checks) = readiness(gateway).await;
    assert_eq!(status, StatusCode::OK, "{checks}");
    kafka.stop();
}
