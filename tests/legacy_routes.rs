//! The original system's routes, unchanged for existing clients:
//! `POST /image/upload`, `POST /comment` and `GET /post`, on both
//! infrastructures.

#[macro_use]
mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{get_json, png, post_until, App, Infra};

async fn the_original_routes_still_work(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "original_routes") else {
        return;
    };
    let ann = app.token("ann");
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png(200, 200)).file_name("old.png"),
    );
    let uploaded = app
        .client
        .post(app.url("/image/upload"))
        .bearer_auth(&ann)
        .multipart(form)
        .send()
        .await;
    let uploaded = uploaded.expect("upload");
    assert_eq!(uploaded.status(), StatusCode::ACCEPTED);
    let id = uploaded.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    post_until(&app, &id, |p| p["status"] == "published").await;
    let commented = app
        .client
        .post(app.url("/comment"))
        .bearer_auth(&ann)
        .json(&json!({"image_id": id, "comment": "old client"}))
        .send()
        .await
        .expect("comment");
    assert_eq!(commented.status(), StatusCode::CREATED);
    post_until(&app, &id, |p| p["comment_count"] == 1).await;
    let feed = get_json(&app, "/post?limit=10").await;
    assert_eq!(feed["nextCursor"], Value::Null);
    assert_eq!(feed["posts"][0]["image_id"], json!(id));
    assert_eq!(feed["posts"][0]["comments"], json!(["old client"]));
    assert!(feed["posts"][0]["created_timestamp"].is_i64());
}

on_both!(the_original_routes_still_work);
