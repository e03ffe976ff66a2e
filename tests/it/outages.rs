//! Outages in the distributed mode: each dependency goes away for a while
//! under writes, and comes back. Writes answer 503 with `Retry-After`
//! (problem+json), never 500; no acknowledged write is lost; every role
//! recovers by itself, with no restart; `/readyz` names what is down.
//!
//! The broker is a Kafka node of the test's own, stopped (SIGTERM) and
//! started again on its data. MariaDB and S3 are the shared test services
//! behind a proxy of the test's own that, while "down", refuses every new
//! connection and resets the open ones: what a client sees of a server
//! that stopped, without stopping the services other tests use.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::cluster::Cluster;
use crate::support::cut_proxy::CutProxy;
use crate::support::kafka_node::KafkaNode;
use crate::support::{image_form, png, publish, App};

/// How long each dependency stays away.
const OUTAGE: Duration = Duration::from_secs(10);

/// What one keyed write saw until it was acknowledged.
#[derive(Default, Debug)]
struct Tally {
    acknowledged: usize,
    unavailable: usize,
    /// Any answer other than 201, or 503 with Retry-After as problem+json.
    wrong: Vec<String>,
}

/// Posts comment `key` on `post` through `gateway` until it is acknowledged
/// (201), waiting `Retry-After` after each 503, as a client should.
async fn comment_until_acknowledged(
    client: &reqwest::Client,
    gateway: &str,
    token: &str,
    post: &str,
    key: &str,
    tally: &mut Tally,
) -> Instant {
    loop {
        let sent = client
            .post(format!("{gateway}/v1/posts/{post}/comments"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({ "content": key }))
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                tally.wrong.push(format!("{key}: no answer: {e}"));
                continue;
            }
        };
        match response.status() {
            StatusCode::CREATED => {
                tally.acknowledged += 1;
                return Instant::now();
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                tally.unavailable += 1;
                let retry = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                let problem = response
                    .headers()
                    .get("content-type")
                    .is_some_and(|v| v == "application/problem+json");
                if retry.is_none() || !problem {
                    tally
                        .wrong
                        .push(format!("{key}: 503 without Retry-After or problem+json"));
                }
                tokio::time::sleep(Duration::from_secs(retry.unwrap_or(1))).await;
            }
            other => {
                let body = response.text().await.unwrap_or_default();
                tally.wrong.push(format!("{key}: {other} {body}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// `/readyz`'s status and its checks.
async fn readiness(gateway: &App) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(gateway.url("/readyz"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("readyz answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The post's comment count once it reaches `expected`, or after a minute.
async fn count_reaches(gateway: &App, post: &str, expected: i64) -> (i64, Instant) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let view: Value = reqwest::get(gateway.url(&format!("/v1/posts/{post}")))
            .await
            .expect("post")
            .json()
            .await
            .unwrap_or(Value::Null);
        let count = view["comment_count"].as_i64().unwrap_or(-1);
        if count >= expected || Instant::now() > deadline {
            return (count, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
    let writer = {
        let (client, gateway, bob, post) = (
            reqwest::Client::new(),
            gateway.base.clone(),
            bob.clone(),
            post.clone(),
        );
        tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut acknowledged_at = Vec::new();
            let started = Instant::now();
            let mut n = 0;
            while started.elapsed() < OUTAGE + Duration::from_secs(12) {
                let key = format!("outage-{n}");
                acknowledged_at
                    .push(comment_until_acknowledged(&client, &gateway, &bob, &post, &key, &mut tally).await);
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (tally, acknowledged_at)
        })
    };
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

    // The converter: a post made now is published.
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

/// `url` with its host and port replaced by 127.0.0.1:`port`.
fn through(url: &str, port: u16) -> String {
    let mut url = reqwest::Url::parse(url).expect("a URL");
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(port)).expect("port");
    url.to_string()
}

/// `host:port` of `url`.
fn host_port(url: &str) -> String {
    let url = reqwest::Url::parse(url).expect("a URL");
    format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port_or_known_default().expect("port")
    )
}

/// A deployment (converter, projector, one gateway) with one dependency
/// reached through a proxy the test can cut: the variable `setting`'s URL.
async fn behind_a_cut(test: &str, setting: &str) -> Option<(Cluster, CutProxy)> {
    let mut env = Cluster::environment(test)?;
    let url = crate::support::value(&env, setting)
        .expect("configured")
        .to_owned();
    let proxy = CutProxy::start(&host_port(&url)).await;
    let proxied = through(&url, proxy.port);
    env.retain(|(k, _)| k != setting);
    env.push((setting.to_owned(), proxied.trim_end_matches('/').to_owned()));
    let mut cluster = Cluster::new(env);
    cluster.add_worker("process");
    cluster.add_worker("project");
    cluster.add_gateway();
    Some((cluster, proxy))
}

/// Keyed comments by `user` on `post`, one after another for `span`, each
/// retried until acknowledged; what they saw, and when each was acknowledged.
fn keep_commenting(
    gateway: &App,
    token: &str,
    post: &str,
    span: Duration,
) -> tokio::task::JoinHandle<(Tally, Vec<Instant>)> {
    let (client, gateway, token, post) = (
        reqwest::Client::new(),
        gateway.base.clone(),
        token.to_owned(),
        post.to_owned(),
    );
    tokio::spawn(async move {
        let mut tally = Tally::default();
        let mut acknowledged_at = Vec::new();
        let started = Instant::now();
        let mut n = 0;
        while started.elapsed() < span {
            let key = format!("{}-{n}", uuid::Uuid::new_v4().simple());
            acknowledged_at
                .push(comment_until_acknowledged(&client, &gateway, &token, &post, &key, &mut tally).await);
            n += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (tally, acknowledged_at)
    })
}

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

    // The converter and the projector: a post made now is published.
    let converted = publish(gateway, &ann, "after the outage").await;
    let pipeline_back = back_at.elapsed();
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
        .expect("writes acknowledged after the database's return");
    let (count, _) = count_reaches(gateway, &post, tally.acknowledged as i64).await;
    assert_eq!(
        count, tally.acknowledged as i64,
        "every acknowledged comment, once"
    );
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
    for (role, took) in [
        ("gateway", gateway_back),
        ("converter and projector", pipeline_back),
    ] {
        assert!(took <= OUTAGE, "the {role} took {took:?} to recover");
    }
    let (status, checks) = readiness(gateway).await;
    assert_eq!(status, StatusCode::OK, "{checks}");
}
