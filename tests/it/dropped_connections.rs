//! Keyed writes whose client drops the connection part-way, at points from
//! before the request is sent to after the answer is ready, then retries
//! with the same Idempotency-Key: each write is applied exactly once, the
//! retry gets the same ids, and no key stays claimed (no endless 409).
//! The same for a tus upload whose completing PATCH is cut. Both
//! infrastructures.

use std::time::Duration;

use crate::support::tus::{b64, create, TUS};
use crate::support::{count_behind_a_fence, image_form, png, post_until, publish, App, Infra};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};

/// Where the first attempt is cut: its client gives up after this long.
const CUTS_US: [u64; 10] = [0, 100, 300, 700, 1_500, 3_000, 6_000, 12_000, 25_000, 60_000];

/// Sends the request with a client that drops the connection after `cut`;
/// whatever it got is ignored.
async fn cut_short(request: impl Fn(&reqwest::Client) -> RequestBuilder, cut: Duration) {
    let hasty = reqwest::Client::builder().timeout(cut).build().expect("client");
    let _ = request(&hasty).send().await;
}

/// Sends the request until it is not 409 (the first attempt may still be
/// running); its status and body. A key stranded by the dropped connection
/// would answer 409 until its lease ran out (30 s): that fails here.
async fn settle(app: &App, request: impl Fn(&reqwest::Client) -> RequestBuilder) -> (StatusCode, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = request(&app.client).send().await.expect("retry");
        let status = response.status();
        if status != StatusCode::CONFLICT {
            return (status, response.json().await.unwrap_or(Value::Null));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the key stayed claimed: still 409 after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn tus_head(app: &App, token: &str, location: &str) -> reqwest::Response {
    app.client
        .head(app.url(location))
        .bearer_auth(token)
        .header(TUS.0, TUS.1)
        .send()
        .await
        .expect("head")
}

async fn keyed_comments_are_applied_once(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "keyed_comments_are_applied_once") else {
        return;
    };
    let ann = app.token("ann");
    let post = publish(&app, &ann, "cut").await;
    let post = post["id"].as_str().expect("id").to_owned();
    let url = app.url(&format!("/v1/posts/{post}/comments"));
    for (i, cut) in CUTS_US.iter().enumerate() {
        let key = format!("comment-{i}");
        let request = |client: &reqwest::Client| {
            client
                .post(&url)
                .bearer_auth(&ann)
                .header("Idempotency-Key", &key)
                .json(&json!({ "content": format!("cut after {cut} µs") }))
        };
        cut_short(request, Duration::from_micros(*cut)).await;
        let (status, first) = settle(&app, request).await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let (again, second) = settle(&app, request).await;
        assert_eq!(again, StatusCode::CREATED);
        assert_eq!(first["id"], second["id"], "the retry names the same comment");
    }
    let n = CUTS_US.len();
    assert_eq!(
        count_behind_a_fence(&app, &ann, &post).await,
        n as i64,
        "each cut comment once, and nothing after"
    );
}

async fn keyed_uploads_are_applied_once(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "keyed_uploads_are_applied_once") else {
        return;
    };
    let ann = app.token("ann");
    let image = png(700, 500);
    for (i, cut) in CUTS_US.iter().enumerate() {
        let key = format!("upload-{i}");
        let request = |client: &reqwest::Client| {
            client
                .post(app.url("/v1/posts"))
                .bearer_auth(&ann)
                .header("Idempotency-Key", &key)
                .multipart(image_form(image.clone(), "cut.png", "cut"))
        };
        cut_short(request, Duration::from_micros(*cut)).await;
        let (status, first) = settle(&app, request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{first}");
        let (_, second) = settle(&app, request).await;
        assert_eq!(first["id"], second["id"], "the retry names the same post");
        let id = first["id"].as_str().expect("id");
        post_until(&app, id, |p| p["status"] == "published").await;
    }
}

async fn a_cut_completing_patch_makes_one_post(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "a_cut_completing_patch_makes_one_post") else {
        return;
    };
    let ann = app.token("ann");
    let bytes = png(700, 500);
    let metadata = format!("caption {},filename {}", b64("cut"), b64("cut.png"));
    for cut in CUTS_US {
        let location = create(&app, &ann, Some(bytes.len()), &metadata).await;
        let patch_from = |offset: usize| {
            let (url, token, rest) = (app.url(&location), ann.clone(), bytes[offset..].to_vec());
            move |client: &reqwest::Client| {
                client
                    .patch(&url)
                    .bearer_auth(&token)
                    .header(TUS.0, TUS.1)
                    .header("Content-Type", "application/offset+octet-stream")
                    .header("Upload-Offset", offset.to_string())
                    .body(rest.clone())
            }
        };
        cut_short(patch_from(0), Duration::from_micros(cut)).await;
        // As a tus client does: ask where the upload stands (and whether it
        // made its post), send the rest (nothing, if every byte arrived)
        // until the upload names its post.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let post = loop {
            let head = tus_head(&app, &ann, &location).await;
            if let Some(post) = head.headers().get("imagegram-post") {
                break post.to_str().expect("post").to_owned();
            }
            let offset: usize = head.headers()["upload-offset"]
                .to_str()
                .ok()
                .and_then(|o| o.parse().ok())
                .expect("an offset");
            let response = patch_from(offset)(&app.client).send().await.expect("patch");
            if let Some(post) = response.headers().get("imagegram-post") {
                break post.to_str().expect("post").to_owned();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the upload never made its post: {}",
                response.status()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // Asked again, the upload names the same one post.
        let again = tus_head(&app, &ann, &location).await;
        assert_eq!(again.headers()["imagegram-post"], post.as_str(), "one post");
        post_until(&app, post.trim_start_matches("/v1/posts/"), |p| {
            p["status"] == "published"
        })
        .await;
    }
}

on_both!(
    keyed_comments_are_applied_once,
    keyed_uploads_are_applied_once,
    a_cut_completing_patch_makes_one_post
);
