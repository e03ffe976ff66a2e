//! What an app client does: images to upload, posts, comments, and
//! waiting on the eventually consistent read side.

use std::time::Duration;

use serde_json::{json, Value};

use super::App;

/// A small valid PNG (`w`x`h`, a gradient).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

pub fn image_form(bytes: Vec<u8>, file_name: &str, caption: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .part(
            "image",
            reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_owned()),
        )
        .text("caption", caption.to_owned())
}

/// Uploads a 640x480 PNG and waits until it is published, as a client
/// should: a 503 is retried after its `Retry-After` with the same
/// Idempotency-Key (for up to two minutes: a dependency may have just come
/// back); then the upload's own `?wait=60`; then, if it is still
/// processing (202, as after an outage while consumers rejoin), the post
/// is read for up to two minutes more. Deadlines for "never published",
/// not speed bounds.
pub async fn publish(app: &App, token: &str, caption: &str) -> Value {
    let key = uuid::Uuid::new_v4().to_string();
    let image = png(640, 480);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let response = loop {
        let response = app
            .client
            .post(app.url("/v1/posts?wait=60"))
            .bearer_auth(token)
            .header("Idempotency-Key", &key)
            .multipart(image_form(image.clone(), "photo.png", caption))
            .send()
            .await
            .expect("upload");
        if response.status() != reqwest::StatusCode::SERVICE_UNAVAILABLE
            || std::time::Instant::now() > deadline
        {
            break response;
        }
        let retry = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(1);
        eprintln!("upload answered 503; retrying in {retry} s with the same key");
        tokio::time::sleep(Duration::from_secs(retry)).await;
    };
    let status = response.status();
    let post: Value = response.json().await.expect("post json");
    match status {
        reqwest::StatusCode::CREATED => post,
        reqwest::StatusCode::ACCEPTED => {
            let id = post["id"].as_str().expect("id").to_owned();
            eprintln!("post {id} still processing after the upload's 60 s wait; reading it until published");
            // What each consumer has left to do, for when it never is.
            let status = app.tool(&["status"]);
            eprintln!(
                "imagegram status:\n{}{}",
                String::from_utf8_lossy(&status.stdout),
                String::from_utf8_lossy(&status.stderr)
            );
            imagegram_testkit::eventually(Duration::from_secs(120), "the post published", || async {
                let view: Value = app
                    .client
                    .get(app.url(&format!("/v1/posts/{id}")))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                if view["status"] == "published" {
                    Ok(view)
                } else {
                    Err(view.to_string())
                }
            })
            .await
        }
        other => panic!("the upload answered {other}: {post}"),
    }
}

/// Comments `content` on `post` as the token's user.
pub async fn comment(app: &App, token: &str, post: &str, content: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/posts/{post}/comments")))
        .bearer_auth(token)
        .json(&json!({ "content": content }))
        .send()
        .await
        .expect("comment")
}

/// The post ids of a feed page, in order.
pub fn page_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `GET path` as JSON (null when the body is not JSON).
pub async fn get_json(app: &App, path: &str) -> Value {
    let response = app.client.get(app.url(path)).send().await.expect("get");
    response.json().await.unwrap_or(Value::Null)
}

/// Polls `GET /v1/posts/{post}` until `check` holds (the read side is
/// eventually consistent), for up to a minute.
pub async fn post_until(app: &App, post: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let response = app
            .client
            .get(app.url(&format!("/v1/posts/{post}")))
            .send()
            .await
            .expect("get post");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if check(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "post never reached the expected state: {body}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The post's comment count once every write on it before this call is
/// applied: a fence comment is appended after them (the log keeps a
/// post's events in order) and awaited as the newest; the count without
/// it. A duplicate appended late would have to land before the fence, so
/// this shows "nothing more is coming" without sleeping on it.
pub async fn count_behind_a_fence(app: &App, token: &str, post: &str) -> i64 {
    let fence = format!("fence {}", uuid::Uuid::new_v4().simple());
    let answer = comment(app, token, post, &fence).await;
    assert_eq!(answer.status(), reqwest::StatusCode::CREATED, "the fence comment");
    let view = post_until(app, post, |p| p["comments"][0]["content"] == fence.as_str()).await;
    view["comment_count"].as_i64().expect("a comment count") - 1
}

/// Every file below `dir`, however deep.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}
