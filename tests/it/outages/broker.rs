//! The broker, a Kafka node of the test's own, stopped (SIGTERM) for 10 s
//! under keyed writes and started again on its data.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::*;
use crate::support::cluster::Cluster;
use crate::support::kafka_node::KafkaNode;
use crate::support::publish;

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
    env.retain(|(k, _)| k != "IMAGEGRAM_KAFKA_BROKERS" && k != "IMAGEGRAM_LOG_FILTER");
    env.push(("IMAGEGRAM_KAFKA_BROKERS".into(), kafka.brokers()));
    // A post that stayed `processing` after the broker's return (about one
    // run in 25) left no trace at warn: rebalances and conversions at info.
    env.push((
        "IMAGEGRAM_LOG_FILTER".into(),
        "warn,imagegram_eventlog=info,imagegram_processors=info,librdkafka=warn".into(),
    ));
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
    imagegram_testkit::eventually(
        Duration::from_secs(60),
        "readyz naming the log unavailable",
        || async {
            let (status, checks) = readiness(gateway).await;
            let named = status == StatusCode::SERVICE_UNAVAILABLE
                && checks["checks"]["log"] == "unavailable"
                && checks["checks"]["read_store"] == "ok";
            if named {
                Ok(())
            } else {
                Err(format!("{status} {checks}"))
            }
        },
    )
    .await;

    // An upload while the broker is away: 503.
    upload_is_refused(gateway, &ann).await;

    tokio::time::sleep(OUTAGE.saturating_sub(down_at.elapsed())).await;
    let mut kafka = tokio::task::spawn_blocking(move || {
        kafka.run();
        kafka
    })
    .await
    .expect("restart");
    let back_at = Instant::now();
    let (tally, gateway_back, pipeline_back) =
        writes_came_through(gateway, &ann, &post, writer, back_at).await;
    eprintln!(
        "broker down for {:?}; {} comments acknowledged, {} answers were 503; after the broker's return: gateway writing in {gateway_back:?}, a new post converted, projected and published in {pipeline_back:?}",
        back_at - down_at,
        tally.acknowledged,
        tally.unavailable,
    );
    let (status, checks) = readiness(gateway).await;
    assert_eq!(status, StatusCode::OK, "{checks}");
    kafka.stop();
}
