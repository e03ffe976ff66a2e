//! Read your own writes: a client that just got 201 for a comment can
//! delete it at once (never 404 for being early), and a read that sends
//! back the write's `Imagegram-Consistency` token sees the write. Both
//! infrastructures.

use std::sync::Arc;

use crate::support::{comment, get_json, post_until, publish, App, Infra};
use reqwest::StatusCode;

const PAIRS: usize = 1_000;
const CLIENTS: usize = 8;

async fn create_then_delete_at_once(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "create_then_delete_at_once") else {
        return;
    };
    let app = Arc::new(app);
    let ann = app.token("ann");
    let post = publish(&app, &ann, "busy").await;
    let post = post["id"].as_str().expect("id").to_owned();
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (app, ann, post) = (Arc::clone(&app), ann.clone(), post.clone());
        clients.push(tokio::spawn(async move {
            for i in (client..PAIRS).step_by(CLIENTS) {
                let created = comment(&app, &ann, &post, &format!("short-lived {i}")).await;
                assert_eq!(created.status(), StatusCode::CREATED);
                let token = created.headers()["imagegram-consistency"].clone();
                let id = created.json::<serde_json::Value>().await.expect("json")["id"]
                    .as_str()
                    .expect("id")
                    .to_owned();
                // Half send the token back; the others rely on the delete
                // catching up with the log by itself.
                let mut delete = app
                    .client
                    .delete(app.url(&format!("/v1/posts/{post}/comments/{id}")))
                    .bearer_auth(&ann);
                if i % 2 == 0 {
                    delete = delete.header("imagegram-consistency", token);
                }
                let deleted = delete.send().await.expect("delete");
                assert_eq!(deleted.status(), StatusCode::NO_CONTENT, "pair {i}");
            }
        }));
    }
    for client in clients {
        client.await.expect("client");
    }
    post_until(&app, &post, |p| p["comment_count"] == 0).await;
}

async fn a_read_with_the_token_sees_the_write(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "a_read_with_the_token_sees_the_write") else {
        return;
    };
    let ann = app.token("ann");
    let post = publish(&app, &ann, "watched").await;
    let post = post["id"].as_str().expect("id").to_owned();
    for n in 1..=50 {
        let created = comment(&app, &ann, &post, &format!("comment {n}")).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let token = created.headers()["imagegram-consistency"].clone();
        let read = app
            .client
            .get(app.url(&format!("/v1/posts/{post}")))
            .header("imagegram-consistency", token)
            .send()
            .await
            .expect("read");
        let view: serde_json::Value = read.json().await.expect("json");
        assert_eq!(view["comment_count"], n, "the read shows comment {n}");
        assert_eq!(view["comments"][0]["content"], format!("comment {n}"));
    }
    // A token that is not one is ignored, not an error.
    let odd = app
        .client
        .get(app.url(&format!("/v1/posts/{post}")))
        .header("imagegram-consistency", "not a token")
        .send()
        .await
        .expect("read");
    assert_eq!(odd.status(), StatusCode::OK);
    assert_eq!(
        get_json(&app, &format!("/v1/posts/{post}")).await["comment_count"],
        50
    );
}

on_both!(create_then_delete_at_once, a_read_with_the_token_sees_the_write);
