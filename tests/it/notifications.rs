//! `GET /v1/events`: each user hears about their own posts — published,
//! failed, commented on by someone else — and nothing of anyone else's,
//! on both infrastructures; a stream dropped and opened again with
//! `Last-Event-ID` hears what happened meanwhile, through any gateway.

use std::time::Duration;

use crate::support::{comment, image_form, png, publish, App, Infra};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

/// Reads Server-Sent Events from a response, skipping keep-alive comments.
struct Events {
    bytes: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
    /// The `id:` of the last event read.
    last_id: Option<String>,
    /// Every id read: a catch-up is at least once, so repeats are dropped.
    seen: std::collections::HashSet<String>,
}

impl Events {
    async fn open(app: &App, token: &str) -> Events {
        Events::open_after(app, token, None).await
    }

    /// Opens the stream again, on `app`, as a reconnecting client does:
    /// with `Last-Event-ID`, dropping events it already had.
    async fn reopen(self, app: &App, token: &str) -> Events {
        let mut events = Events::open_after(app, token, self.last_id.as_deref()).await;
        events.seen = self.seen;
        events
    }

    /// Opens the stream with `Last-Event-ID: last_id`.
    async fn open_after(app: &App, token: &str, last_id: Option<&str>) -> Events {
        // Sent as browsers send it: the stream still goes out uncompressed,
        // each event as it happens.
        let mut request = app
            .client
            .get(app.url("/v1/events"))
            .bearer_auth(token)
            .header("accept-encoding", "gzip, br, zstd");
        if let Some(id) = last_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("events");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("content-encoding").is_none());
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Events {
            bytes: response.bytes_stream().map(|b| b.map(|b| b.to_vec())).boxed(),
            buffer: String::new(),
            last_id: None,
            seen: Default::default(),
        }
    }

    /// The next event's name and data, failing after 60 s.
    async fn next(&mut self) -> (String, Value) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim_start().to_owned())
                };
                if let (Some(name), Some(data)) = (field("event:"), field("data:")) {
                    if let Some(id) = field("id:") {
                        if !self.seen.insert(id.clone()) {
                            continue;
                        }
                        self.last_id = Some(id);
                    }
                    return (name, serde_json::from_str(&data).expect("event data is JSON"));
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.bytes.next())
                .await
                .expect("an event within 60 s")
                .expect("the stream stays open")
                .expect("stream bytes");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn each_user_hears_about_their_own_posts(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "each_user_hears_about_their_own_posts") else {
        return;
    };
    let (ann, bob) = (app.token("ann"), app.token("bob"));
    let mut ann_events = Events::open(&app, &ann).await;
    let mut bob_events = Events::open(&app, &bob).await;

    let post = publish(&app, &ann, "harbour").await;
    let id = post["id"].as_str().expect("id").to_owned();
    let (name, data) = ann_events.next().await;
    assert_eq!(
        (name.as_str(), data["post_id"].as_str()),
        ("post.published", Some(id.as_str()))
    );
    assert_eq!(data["image_url"], format!("/v1/images/{id}.jpg"));

    // Ann's own comment tells her nothing; Bob's does.
    assert_eq!(
        comment(&app, &ann, &id, "my own").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        comment(&app, &bob, &id, "lovely light").await.status(),
        StatusCode::CREATED
    );
    let (name, data) = ann_events.next().await;
    assert_eq!(name, "comment.added", "{data}");
    assert_eq!(data["post_id"], id.as_str());
    assert_eq!(data["comment"]["creator"], "bob");
    assert_eq!(data["comment"]["content"], "lovely light");

    // Bob's first event is his own failure, not anything of Ann's.
    let mut broken = png(64, 64);
    broken.truncate(broken.len() / 2);
    let failed = app
        .client
        .post(app.url("/v1/posts"))
        .bearer_auth(&bob)
        .multipart(image_form(broken, "half.png", "oops"))
        .send()
        .await
        .expect("upload");
    assert_eq!(failed.status(), StatusCode::ACCEPTED);
    let failed: Value = failed.json().await.expect("json");
    let (name, data) = bob_events.next().await;
    assert_eq!(name, "post.failed");
    assert_eq!(data["post_id"], failed["id"]);
    assert_eq!(
        data["reason"], "The PNG file is damaged or incomplete, so it could not be read.",
        "{data}"
    );
}

async fn events_need_a_token(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "events_need_a_token") else {
        return;
    };
    let response = app
        .client
        .get(app.url("/v1/events"))
        .send()
        .await
        .expect("events");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

on_both!(
    each_user_hears_about_their_own_posts,
    events_need_a_token,
    a_dropped_stream_hears_what_it_missed
);

/// A stream dropped after one event and opened again with its id hears
/// what happened while it was away: a post converted, a comment. An id
/// from before the window is told `missed`.
async fn a_dropped_stream_hears_what_it_missed(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "a_dropped_stream_hears_what_it_missed") else {
        return;
    };
    let (ann, bob) = (app.token("ann"), app.token("bob"));
    let mut events = Events::open(&app, &ann).await;
    let first = publish(&app, &ann, "before").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (name, _) = events.next().await;
    assert_eq!(name, "post.published");
    assert!(events.last_id.is_some(), "events carry an id");
    // The connection drops; the client keeps what it had read.
    drop(std::mem::replace(
        &mut events.bytes,
        futures::stream::empty().boxed(),
    ));

    let second = publish(&app, &ann, "while away").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        comment(&app, &bob, &first, "hello").await.status(),
        StatusCode::CREATED
    );
    // The client opens the stream again with what it had read.
    let mut events = events.reopen(&app, &ann).await;
    let mut heard = Vec::new();
    while heard.len() < 2 {
        let (name, data) = events.next().await;
        heard.push((name, data["post_id"].as_str().unwrap_or_default().to_owned()));
    }
    heard.sort();
    assert_eq!(
        heard,
        [
            ("comment.added".to_owned(), first),
            ("post.published".to_owned(), second)
        ]
    );

    let mut stale = Events::open_after(&app, &ann, Some("1000:imagegram.images:0:0")).await;
    assert_eq!(stale.next().await.0, "missed");
}

/// The distributed mode: a post made through one gateway and converted by
/// a converter process elsewhere is told on the uploader's stream held by
/// another gateway, and `?wait=` on the first gateway sees it too; so is a
/// comment made through the first gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_hear_of_work_done_by_other_processes() {
    let Some(env) = crate::support::cluster::Cluster::environment("streams_across_gateways") else {
        return;
    };
    let mut cluster = crate::support::cluster::Cluster::new(env);
    cluster.add_worker("process");
    cluster.add_worker("project");
    let (a, b) = (cluster.add_gateway(), cluster.add_gateway());
    let (ann, bob) = (cluster.token("ann"), cluster.token("bob"));
    let mut ann_events = Events::open(&cluster.gateways[b], &ann).await;

    // `publish` waits (`?wait=60`) on gateway a for the converter's result.
    let post = publish(&cluster.gateways[a], &ann, "harbour").await;
    let id = post["id"].as_str().expect("id").to_owned();
    let (name, data) = ann_events.next().await;
    assert_eq!(
        (name.as_str(), data["post_id"].as_str()),
        ("post.published", Some(id.as_str()))
    );
    assert_eq!(
        comment(&cluster.gateways[a], &bob, &id, "from the other gateway")
            .await
            .status(),
        StatusCode::CREATED
    );
    let (name, data) = ann_events.next().await;
    assert_eq!(name, "comment.added", "{data}");
    assert_eq!(data["comment"]["content"], "from the other gateway");

    // Dropped from gateway b, a post converted meanwhile, opened again on
    // gateway a with the last id: the post's publication arrives.
    drop(std::mem::replace(
        &mut ann_events.bytes,
        futures::stream::empty().boxed(),
    ));
    let away = publish(&cluster.gateways[a], &ann, "while away").await;
    let mut ann_events = ann_events.reopen(&cluster.gateways[a], &ann).await;
    let (name, data) = ann_events.next().await;
    assert_eq!(
        (name.as_str(), data["post_id"].as_str()),
        ("post.published", away["id"].as_str())
    );
}
