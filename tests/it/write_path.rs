//! The write path over HTTP, as clients use it: every status code, both
//! infrastructures (embedded; Kafka + S3 + MySQL when configured).

use crate::support::{
    comment, count_behind_a_fence, get_json, image_form, png, post_until, publish, App, Infra,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn post_comment_delete(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "post_comment_delete") else {
        return;
    };
    let (ann, bob) = (app.token("ann"), app.token("bob"));
    let post = publish(&app, &ann, "sunset").await;
    assert_eq!(
        (post["status"].as_str(), post["creator"].as_str()),
        (Some("published"), Some("ann"))
    );
    let id = post["id"].as_str().expect("id").to_owned();
    let response = comment(&app, &bob, &id, "  lovely  ").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.expect("json");
    assert_eq!(
        (created["content"].as_str(), created["creator"].as_str()),
        (Some("lovely"), Some("bob"))
    );
    let comment_id = created["id"].as_str().expect("comment id");
    let path = format!("/v1/posts/{id}/comments/{comment_id}");
    post_until(&app, &id, |p| p["comment_count"] == 1).await;
    let forbidden = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&ann)
        .send()
        .await
        .expect("delete");
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(forbidden.headers()["content-type"], "application/problem+json");
    let deleted = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let view = post_until(&app, &id, |p| p["comment_count"] == 0).await;
    assert_eq!(view["comments"], json!([]));
    let again = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("delete");
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let image = app
        .client
        .get(app.url(&format!("/v1/images/{id}.jpg")))
        .header("accept-encoding", "gzip, br, zstd")
        .send()
        .await
        .expect("image");
    assert_eq!(
        (image.status(), image.headers()["content-type"].to_str().ok()),
        (StatusCode::OK, Some("image/jpeg"))
    );
    // A JPEG is compressed already: it goes out as it is stored.
    assert!(image.headers().get("content-encoding").is_none());
    let page = app
        .client
        .get(app.url("/v1/posts"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("feed");
    assert_eq!(page.headers()["content-encoding"], "gzip");
    assert_eq!(page.headers()["vary"], "accept-encoding");
}

async fn writes_need_a_valid_token(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "writes_need_a_valid_token") else {
        return;
    };
    let post = uuid::Uuid::new_v4();
    let attempts = [
        app.client
            .post(app.url("/v1/posts"))
            .multipart(image_form(png(8, 8), "a.png", "x")),
        app.client
            .post(app.url(&format!("/v1/posts/{post}/comments")))
            .json(&json!({"content": "hi"})),
        app.client
            .delete(app.url(&format!("/v1/posts/{post}/comments/{post}"))),
        app.client
            .post(app.url("/comment"))
            .json(&json!({"image_id": post, "comment": "hi"})),
        app.client
            .post(app.url("/v1/posts/x/comments"))
            .bearer_auth("forged.token.here")
            .json(&json!({"content": "a"})),
    ];
    for attempt in attempts {
        let response = attempt.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
}

async fn missing_and_unpublished_posts_take_no_comments(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "missing_and_unpublished") else {
        return;
    };
    let ann = app.token("ann");
    let missing = comment(&app, &ann, &uuid::Uuid::new_v4().to_string(), "hello?").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Magic bytes of a png, then garbage: accepted, then conversion fails.
    let mut broken = png(64, 64);
    broken.truncate(60);
    let failed = app
        .client
        .post(app.url("/v1/posts?wait=60"))
        .bearer_auth(&ann)
        .multipart(image_form(broken, "broken.png", "oops"))
        .send()
        .await
        .expect("upload");
    assert_eq!(failed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let location = failed.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let problem: Value = failed.json().await.expect("problem");
    // A sentence for a person, naming the post whose reason the client can read.
    let reason = "The PNG file is damaged or incomplete, so it could not be read.";
    assert_eq!(problem["detail"], reason, "{problem}");
    assert_eq!(problem["instance"], location.as_str());
    let id = location.trim_start_matches("/v1/posts/");
    let post = post_until(&app, id, |p| p["status"] == "failed").await;
    assert_eq!(post["failure_reason"], reason);
}

async fn a_text_file_named_photo_png_is_415(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "text_file_is_415") else {
        return;
    };
    let ann = app.token("ann");
    let response = app
        .client
        .post(app.url("/v1/posts"))
        .bearer_auth(&ann)
        .multipart(image_form(b"just some text, honestly".to_vec(), "photo.png", "x"))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

async fn idempotent_retries(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "idempotent_retries") else {
        return;
    };
    let ann = app.token("ann");
    let send = |caption: &'static str| {
        app.client
            .post(app.url("/v1/posts"))
            .bearer_auth(&ann)
            .header("Idempotency-Key", "upload-42")
            .multipart(image_form(png(300, 200), "p.png", caption))
            .send()
    };
    let first = send("same").await.expect("first");
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.expect("json");
    let retry = send("same").await.expect("retry");
    assert_eq!(retry.status(), StatusCode::ACCEPTED);
    assert_eq!(
        retry.headers().get("idempotent-replayed").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let retry: Value = retry.json().await.expect("json");
    assert_eq!(retry["id"], first["id"], "the same post");
    let conflict = send("different").await.expect("conflict");
    assert_eq!(conflict.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let id = first["id"].as_str().expect("id").to_owned();
    post_until(&app, &id, |p| p["status"] == "published").await;
    let key = |k: &'static str| {
        app.client
            .post(app.url(&format!("/v1/posts/{id}/comments")))
            .bearer_auth(&ann)
            .header("Idempotency-Key", k)
            .json(&json!({"content": "once"}))
            .send()
    };
    let c1: Value = key("c-1").await.expect("c1").json().await.expect("json");
    let c2: Value = key("c-1").await.expect("c2").json().await.expect("json");
    assert_eq!(c1["id"], c2["id"]);
    assert_eq!(
        count_behind_a_fence(&app, &ann, &id).await,
        1,
        "the retry added nothing"
    );
    let feed = get_json(&app, "/post").await;
    assert_eq!(
        feed["posts"].as_array().map(Vec::len),
        Some(1),
        "one post for two uploads with one key"
    );
}

async fn concurrent_comments_all_count(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "concurrent_comments") else {
        return;
    };
    let ann = app.token("ann");
    let id = publish(&app, &ann, "busy").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let tokens: Vec<String> = (0..5).map(|u| app.token(&format!("user{u}"))).collect();
    let texts: Vec<String> = (0..50).map(|i| format!("comment {i}")).collect();
    let mut requests = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        requests.push(comment(&app, &tokens[i % 5], &id, text));
    }
    for response in futures::future::join_all(requests).await {
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let view = post_until(&app, &id, |p| p["comment_count"] == 50).await;
    assert_eq!(view["comments"].as_array().map(Vec::len), Some(2));
}

async fn bad_bodies_are_400(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "bad_bodies") else {
        return;
    };
    let ann = app.token("ann");
    let id = publish(&app, &ann, "p").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for content in ["   ".to_owned(), "x".repeat(1001)] {
        assert_eq!(
            comment(&app, &ann, &id, &content).await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        comment(&app, &ann, &id, &"é".repeat(1000)).await.status(),
        StatusCode::CREATED
    );
    let long_caption = app
        .client
        .post(app.url("/v1/posts"))
        .bearer_auth(&ann)
        .multipart(image_form(png(8, 8), "a.png", &"c".repeat(2201)))
        .send()
        .await
        .expect("upload");
    assert_eq!(long_caption.status(), StatusCode::BAD_REQUEST);
    let not_json = app
        .client
        .post(app.url(&format!("/v1/posts/{id}/comments")))
        .bearer_auth(&ann)
        .body("content=hi")
        .send()
        .await
        .expect("comment");
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(not_json.headers()["content-type"], "application/problem+json");
}

on_both!(
    post_comment_delete,
    writes_need_a_valid_token,
    missing_and_unpublished_posts_take_no_comments,
    a_text_file_named_photo_png_is_415,
    idempotent_retries,
    concurrent_comments_all_count,
    bad_bodies_are_400
);
