//! The binary as an operator runs it: `imagegram serve` on an empty data dir.

use std::time::Duration;

use crate::support::{App, Infra};

#[tokio::test]
async fn serve_starts_with_nothing_else_running_and_stops_on_sigterm() {
    let Some(mut app) = App::start(Infra::Embedded, "serve", "serve_starts") else {
        return;
    };
    let health = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status(), 200);
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz answers");
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    for check in ["log", "read_store", "blob_store"] {
        assert_eq!(body["checks"][check], "ok", "{check}");
    }
    let status = app.stop_within(Duration::from_secs(10));
    assert!(status.success(), "clean exit after SIGTERM, got {status}");
    for made in ["log/log.redb", "read.db", "state.db", "jwt-secret", "blobs"] {
        assert!(app.data.path().join(made).exists(), "{made} under --data-dir");
    }
}

#[tokio::test]
async fn openapi_lists_every_route_with_its_schemas() {
    let Some(mut app) = App::start(Infra::Embedded, "serve", "openapi") else {
        return;
    };
    let spec: serde_json::Value = reqwest::get(app.url("/openapi.json"))
        .await
        .expect("openapi answers")
        .json()
        .await
        .expect("json");
    assert!(
        spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1: {}",
        spec["openapi"]
    );
    let routes = [
        ("/v1/posts", "post"),
        ("/v1/posts/{id}", "get"),
        ("/v1/posts/{id}/comments", "post"),
        ("/v1/posts/{id}/comments/{comment_id}", "delete"),
        ("/v1/images/{file}", "get"),
        ("/image/upload", "post"),
        ("/comment", "post"),
        ("/post", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ];
    for (path, method) in routes {
        assert!(
            spec["paths"][path][method].is_object(),
            "{method} {path} is missing"
        );
    }
    for schema in [
        "PostJson",
        "CommentJson",
        "NewComment",
        "Problem",
        "OldComment",
        "OldFeed",
    ] {
        assert!(
            spec["components"]["schemas"][schema].is_object(),
            "schema {schema} is missing"
        );
    }
    app.stop_within(Duration::from_secs(10));
}
