//! The original system's routes, unchanged for existing clients:
//! `POST /image/upload`, `POST /comment` and `GET /post` (with its
//! numeric cursors and a trailing slash), on both infrastructures.

use crate::support::{comment, get_json, png, post_until, publish, App, Infra};
use reqwest::StatusCode;
use serde_json::{json, Value};

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

/// `nextCursor=N` is a position in the feed order, counted from 0, as the
/// original system documented it; opaque cursors work beside it.
async fn numeric_cursors_and_a_trailing_slash(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "numeric_cursors") else {
        return;
    };
    let ann = app.token("ann");
    let mut ids = Vec::new();
    for i in 0..5 {
        let post = publish(&app, &ann, &format!("post {i}")).await;
        ids.push(post["id"].as_str().expect("id").to_owned());
    }
    // Post i gets i comments, so the feed order is 4, 3, 2, 1, 0.
    for (i, id) in ids.iter().enumerate() {
        for n in 0..i {
            let added = comment(&app, &ann, id, &format!("c{n}")).await;
            assert_eq!(added.status(), StatusCode::CREATED);
        }
    }
    post_until(&app, &ids[4], |p| p["comment_count"] == 4).await;
    let order = |feed: &Value| -> Vec<String> {
        feed["posts"]
            .as_array()
            .map(|posts| {
                posts
                    .iter()
                    .map(|p| p["image_id"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Positions are found in the gateway's live ranking, which follows the
    // read store by a few milliseconds: wait until both show the order.
    let expected: Vec<String> = ids.iter().rev().cloned().collect();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let by_key = get_json(&app, "/post?limit=10").await;
        let by_position = get_json(&app, "/post?limit=10&nextCursor=0").await;
        if order(&by_key) == expected && order(&by_position) == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "feed order {:?}, by position {:?}",
            order(&by_key),
            order(&by_position)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let slashed = get_json(&app, "/post/?limit=10").await;
    assert_eq!(order(&slashed), expected, "a trailing slash answers like /post");

    let from_1 = get_json(&app, "/post?limit=2&nextCursor=1").await;
    assert_eq!(
        order(&from_1),
        expected[1..3].to_vec(),
        "two posts from the second on"
    );
    assert_eq!(from_1["nextCursor"], "3");
    let from_3 = get_json(&app, "/post?limit=2&nextCursor=3").await;
    assert_eq!(order(&from_3), expected[3..5].to_vec());
    assert_eq!(from_3["nextCursor"], Value::Null, "nothing after the last");
    let beyond = get_json(&app, "/post?limit=2&nextCursor=10").await;
    assert_eq!(order(&beyond), Vec::<String>::new());

    // Opaque cursors walk the same order.
    let first = get_json(&app, "/post?limit=3").await;
    let cursor = first["nextCursor"].as_str().expect("an opaque cursor").to_owned();
    let rest = get_json(&app, &format!("/post?limit=3&nextCursor={cursor}")).await;
    assert_eq!([order(&first), order(&rest)].concat(), expected);

    let missing = app
        .client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    let problem: Value = missing.json().await.expect("problem");
    assert_eq!(problem["status"], 404);
}

on_both!(
    the_original_routes_still_work,
    numeric_cursors_and_a_trailing_slash
);
