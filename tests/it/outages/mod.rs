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
use crate::support::App;

mod blob_store;
mod broker;
mod database;

/// How long each dependency stays away.
pub(super) const OUTAGE: Duration = Duration::from_secs(10);

/// How long a keyed write may take to be acknowledged, outage included:
/// generous, since this is "never came back", not a speed bound.
const ACKNOWLEDGED_WITHIN: Duration = Duration::from_secs(120);

/// What one keyed write saw until it was acknowledged.
#[derive(Default, Debug)]
pub(super) struct Tally {
    pub acknowledged: usize,
    pub unavailable: usize,
    /// Any answer other than 201, or 503 with Retry-After as problem+json.
    pub wrong: Vec<String>,
}

/// Posts comment `key` on `post` through `gateway` until it is acknowledged
/// (201), waiting `Retry-After` after each 503, as a client should; fails
/// after [`ACKNOWLEDGED_WITHIN`].
pub(super) async fn comment_until_acknowledged(
    client: &reqwest::Client,
    gateway: &str,
    token: &str,
    post: &str,
    key: &str,
    tally: &mut Tally,
) -> Instant {
    let deadline = Instant::now() + ACKNOWLEDGED_WITHIN;
    loop {
        assert!(
            Instant::now() < deadline,
            "comment {key} was not acknowledged within {ACKNOWLEDGED_WITHIN:?}: {tally:?}"
        );
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
                tokio::time::sleep(Duration::from_millis(200)).await;
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
pub(super) async fn readiness(gateway: &App) -> (StatusCode, Value) {
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

/// `url` with its host and port replaced by 127.0.0.1:`port`.
pub(super) fn through(url: &str, port: u16) -> String {
    let mut url = reqwest::Url::parse(url).expect("a URL");
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(port)).expect("port");
    url.to_string()
}

/// `host:port` of `url`.
pub(super) fn host_port(url: &str) -> String {
    let url = reqwest::Url::parse(url).expect("a URL");
    format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port_or_known_default().expect("port")
    )
}

/// A deployment (converter, projector, one gateway) with one dependency
/// reached through a proxy the test can cut: the variable `setting`'s URL.
pub(super) async fn behind_a_cut(test: &str, setting: &str) -> Option<(Cluster, CutProxy)> {
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
pub(super) fn keep_commenting(
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

/// A new upload while a dependency is away: 503 with `Retry-After`.
pub(super) async fn upload_is_refused(gateway: &App, token: &str) {
    let response = reqwest::Client::new()
        .post(gateway.url("/v1/posts"))
        .bearer_auth(token)
        .multipart(crate::support::image_form(
            crate::support::png(320, 240),
            "away.png",
            "during the outage",
        ))
        .send()
        .await
        .expect("upload answers");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
}

/// After a dependency came back at `back_at`: a new post is published (the
/// converter and the projector work), the writer's answers were all 201 or
/// 503, some met the outage, and every acknowledged comment on `post` is in
/// the read model exactly once. How long after `back_at` the gateway
/// acknowledged a write again, and the new post was published.
pub(super) async fn writes_came_through(
    gateway: &App,
    token: &str,
    post: &str,
    writer: tokio::task::JoinHandle<(Tally, Vec<Instant>)>,
    back_at: Instant,
) -> (Tally, Duration, Duration) {
    let converted = crate::support::publish(gateway, token, "after the outage").await;
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
        .expect("writes acknowledged after the return");
    let (count, _) = count_reaches(gateway, post, tally.acknowledged as i64).await;
    assert_eq!(
        count, tally.acknowledged as i64,
        "every acknowledged comment, once"
    );
    // How long each took is printed by the caller, not asserted: on two
    // shared cores a bound in seconds is a flake. Coming back at all is
    // what the deadlines above (publish's, the writer's) require.
    (tally, gateway_back, pipeline_back)
}
