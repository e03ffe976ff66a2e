//! The gateway built in-process (`Gateway::build`) on the embedded stack,
//! its router driven with `oneshot`: no socket, no child process.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use imagegram_ingest::{Gateway, GatewaySettings, Ports};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const SECRET: &[u8] = b"an in-process test secret of 32+ bytes";

async fn gateway(dir: &std::path::Path, stop: &CancellationToken) -> Gateway {
    let stack = imagegram_testkit::embedded(dir).await;
    let ports = Ports {
        log: stack.log,
        stores: stack.stores,
        blobs: stack.blobs,
    };
    Gateway::build(ports, GatewaySettings::new(SECRET.to_vec()), stop.clone())
        .await
        .expect("gateway")
}

async fn json_of(response: Response) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

fn comment(post: uuid::Uuid, token: Option<&str>, body: &'static str) -> Request<Body> {
    let mut request =
        Request::post(format!("/v1/posts/{post}/comments")).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::from(body)).expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_answers_in_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stop = CancellationToken::new();
    let gateway = gateway(dir.path(), &stop).await;
    let router = gateway.router();

    let health = router.clone().oneshot(get("/healthz")).await.expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = router.clone().oneshot(get("/readyz")).await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);

    let feed = router.clone().oneshot(get("/v1/posts")).await.expect("feed");
    assert_eq!(feed.status(), StatusCode::OK);
    assert_eq!(json_of(feed).await["items"], serde_json::json!([]));

    let missing = router.clone().oneshot(get("/no/such/route")).await.expect("404");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        missing.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );

    let post = uuid::Uuid::new_v4();
    let hello = r#"{"content":"hello"}"#;
    let anonymous = router
        .clone()
        .oneshot(comment(post, None, hello))
        .await
        .expect("comment");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let token = gateway
        .auth()
        .issue("ann", Duration::from_secs(60))
        .expect("token");
    let unpublished = router
        .clone()
        .oneshot(comment(post, Some(&token), hello))
        .await
        .expect("comment");
    assert_eq!(unpublished.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(unpublished).await["status"], 404);

    let refused = router
        .oneshot(comment(post, Some(&token), "{not json"))
        .await
        .expect("comment");
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    stop.cancel();
}
