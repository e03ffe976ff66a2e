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

/// Makes `path` look written `hours` ago.
async fn bytes_of(response: Response) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .expect("body")
        .to_vec()
}

fn accepting(path: &str, encodings: &str) -> Request<Body> {
    Request::get(path)
        .header(header::ACCEPT_ENCODING, encodings)
        .body(Body::empty())
        .expect("request")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_answers_are_compressed_as_the_client_accepts_and_only_then() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stop = CancellationToken::new();
    let gateway = gateway(dir.path(), &stop).await;
    let router = gateway.router();

    // No Accept-Encoding: identity, and the Vary that tells caches why.
    let plain = router
        .clone()
        .oneshot(get("/openapi.json"))
        .await
        .expect("openapi");
    assert_eq!(plain.status(), StatusCode::OK);
    assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(plain.headers()[header::VARY], "accept-encoding");
    let identity = bytes_of(plain).await;
    assert!(serde_json::from_slice::<Value>(&identity).is_ok());

    for (accepted, chosen) in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("br;q=0.5, gzip", "gzip"),
    ] {
        let answer = router
            .clone()
            .oneshot(accepting("/openapi.json", accepted))
            .await
            .expect("openapi");
        assert_eq!(
            answer.headers()[header::CONTENT_ENCODING],
            chosen,
            "for {accepted}"
        );
        assert_eq!(answer.headers()[header::VARY], "accept-encoding");
        let body = bytes_of(answer).await;
        assert!(
            body.len() * 3 < identity.len(),
            "{chosen}: {} of {} bytes",
            body.len(),
            identity.len()
        );
        if chosen == "gzip" {
            let mut unzipped = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut unzipped)
                .expect("gunzip");
            assert_eq!(unzipped, identity);
        }
    }

    // An answer under 32 bytes (the empty feed) goes out as it is;
    // problems are compressed like every JSON answer.
    let feed = router
        .clone()
        .oneshot(accepting("/v1/posts", "gzip"))
        .await
        .expect("feed");
    assert_eq!(feed.status(), StatusCode::OK);
    assert!(feed.headers().get(header::CONTENT_ENCODING).is_none());
    let unknown = router
        .clone()
        .oneshot(accepting("/v1/posts/not-a-uuid/comments/x", "gzip"))
        .await
        .expect("problem");
    assert!(unknown.status().is_client_error());
    assert_eq!(unknown.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(
        unknown.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    stop.cancel();
}

fn age(path: &std::path::Path, hours: u64) {
    let then = std::time::SystemTime::now() - Duration::from_secs(hours * 3600);
    let file = std::fs::File::options().write(true).open(path).expect("open");
    file.set_modified(then).expect("set mtime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orphan_sweep_removes_only_what_nothing_refers_to() {
    let dir = tempfile::tempdir().expect("temp dir");
    let stop = CancellationToken::new();
    let stack = imagegram_testkit::embedded(dir.path()).await;
    let (blobs, uploads) = (stack.blobs.clone(), stack.stores.uploads.clone());
    let ports = Ports {
        log: stack.log,
        stores: stack.stores,
        blobs: stack.blobs,
    };
    let gateway = Gateway::build(ports, GatewaySettings::new(SECRET.to_vec()), stop.clone())
        .await
        .expect("gateway");
    let live = imagegram_readstore::Upload {
        id: uuid::Uuid::new_v4(),
        owner: "ann".into(),
        length: Some(10),
        offset: 0,
        metadata: String::new(),
        created_at: 0,
        expires_at: i64::MAX,
        post_id: None,
        first_part: None,
    };
    uploads.create_upload(&live).await.expect("upload");
    let gone = uuid::Uuid::new_v4();
    let keys = [
        ("staging/old", 2, true),
        ("staging/fresh", 0, false),
        (&*format!("uploads/{}/000000000000-a", gone.simple()), 30, true),
        (
            &*format!("uploads/{}/000000000000-b", live.id.simple()),
            30,
            false,
        ),
    ]
    .map(|(k, h, swept)| (k.to_owned(), h, swept));
    let root = dir.path().join("blobs");
    for (key, hours, _) in &keys {
        blobs
            .put(key, bytes::Bytes::from_static(b"x"))
            .await
            .expect("put");
        age(&root.join(key), *hours);
    }
    let partial = root.join(".partial/left-by-a-killed-process");
    std::fs::write(&partial, b"half").expect("partial");
    age(&partial, 2);

    assert_eq!(
        gateway.sweep_orphans().await,
        3,
        "two orphans and one partial write"
    );
    for (key, _, swept) in &keys {
        assert_eq!(blobs.size(key).await.expect("size").is_none(), *swept, "{key}");
    }
    assert!(!partial.exists());
    stop.cancel();
}
