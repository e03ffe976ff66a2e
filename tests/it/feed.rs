//! `GET /v1/posts`: order and tie-breaks, the page shape, limits, cursors
//! that were tampered with (400) or outlived their snapshot (410), and
//! stable paging while comments keep moving posts — on both infrastructures.

use std::collections::HashSet;
use std::time::Duration;

use crate::support::{comment, page_ids, publish, App, Infra};
use imagegram_ingest::CursorSigner;
use reqwest::StatusCode;
use serde_json::Value;

async fn get(app: &App, path: &str) -> (StatusCode, Value) {
    let response = app.client.get(app.url(path)).send().await.expect("get");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Publishes `n` posts by ann, oldest first, and gives post i `counts[i]` comments.
async fn posts_with_counts(app: &App, counts: &[usize]) -> Vec<String> {
    let (ann, bob) = (app.token("ann"), app.token("bob"));
    let mut posts = Vec::new();
    for (i, &n) in counts.iter().enumerate() {
        let post = publish(app, &ann, &format!("post {i}")).await;
        let id = post["id"].as_str().expect("id").to_owned();
        for c in 0..n {
            let response = comment(app, &bob, &id, &format!("comment {c}")).await;
            assert_eq!(response.status(), StatusCode::CREATED);
        }
        posts.push(id);
    }
    posts
}

/// Polls the first page until it starts with `expected`.
async fn feed_shows(app: &App, expected: &[String]) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, page) = get(app, "/v1/posts?limit=100").await;
        assert_eq!(status, StatusCode::OK);
        if page_ids(&page).starts_with(expected) {
            return page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "feed never showed {expected:?}: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn order_shape_limits_and_cursors(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "order_shape_limits_and_cursors") else {
        return;
    };
    // Counts 1, 3, 0, 3, 0: most comments first, then newest, so 3 (newer), 1, 0, then 4 (newer), 2.
    let posts = posts_with_counts(&app, &[1, 3, 0, 3, 0]).await;
    let expected: Vec<String> = [3, 1, 0, 4, 2].iter().map(|&i| posts[i].clone()).collect();
    let page = feed_shows(&app, &expected).await;
    assert_eq!(page["next_cursor"], Value::Null);
    let top = &page["items"][0];
    assert_eq!(top["comment_count"], 3);
    assert_eq!(top["caption"], "post 3");
    assert_eq!(top["creator"], "ann");
    assert_eq!(top["image_url"], format!("/v1/images/{}.jpg", posts[3]));
    assert_eq!(top["comments"].as_array().map(Vec::len), Some(2));
    assert_eq!(top["comments"][0]["content"], "comment 2", "newest first");
    assert!(top["created_at"].is_string());

    let (status, first) = get(&app, "/v1/posts?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page_ids(&first), expected[..2]);
    let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
    let (_, second) = get(&app, &format!("/v1/posts?limit=2&cursor={cursor}")).await;
    assert_eq!(page_ids(&second), expected[2..4]);

    for bad in ["0", "101", "x"] {
        let (status, problem) = get(&app, &format!("/v1/posts?limit={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={bad}");
        assert_eq!(problem["status"], 400);
    }
    let mut tampered = cursor.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    for bad in [tampered.as_str(), "not-a-cursor", "AAAA"] {
        let (status, _) = get(&app, &format!("/v1/posts?cursor={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "cursor {bad}");
    }
    // A well-signed cursor whose snapshot this instance does not hold: 410.
    let secret = std::fs::read(app.data.path().join("jwt-secret")).expect("secret");
    let signer = CursorSigner::new(&secret);
    let mut stale = signer.decode(&cursor).expect("our own cursor decodes");
    stale.snapshot += 1_000_000;
    let (status, problem) = get(&app, &format!("/v1/posts?cursor={}", signer.encode(&stale))).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("start again")),
        "{problem}"
    );
}

async fn paging_is_stable_while_comments_move_posts(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "paging_is_stable_while_comments_move_posts") else {
        return;
    };
    let counts: Vec<usize> = (0..12).map(|i| i % 3).collect();
    let posts = posts_with_counts(&app, &counts).await;
    let mut order: Vec<usize> = (0..12).collect();
    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(b.cmp(&a)));
    let expected: Vec<String> = order.iter().map(|&i| posts[i].clone()).collect();
    feed_shows(&app, &expected).await;

    let (_, first) = get(&app, "/v1/posts?limit=5").await;
    let mut seen = page_ids(&first);
    // A writer now piles comments on the posts at the bottom of the snapshot.
    let bob = app.token("bob");
    for id in expected.iter().rev().take(4) {
        for c in 0..4 {
            assert_eq!(
                comment(&app, &bob, id, &format!("late {c}")).await.status(),
                StatusCode::CREATED
            );
        }
    }
    // Let the live ranking change before walking on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, live) = get(&app, "/v1/posts?limit=1").await;
        if live["items"][0]["comment_count"].as_i64().is_some_and(|n| n >= 4) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the live feed never moved: {live}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut cursor = first["next_cursor"].as_str().map(str::to_owned);
    while let Some(next) = cursor {
        let (status, page) = get(&app, &format!("/v1/posts?limit=5&cursor={next}")).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(page_ids(&page));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(
        seen, expected,
        "every post once, in the order of the first page's moment"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 12);
}

on_both!(
    order_shape_limits_and_cursors,
    paging_is_stable_while_comments_move_posts
);
