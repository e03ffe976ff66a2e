//! Tokens from an identity provider: RS256 and ES256, checked against a
//! JWKS document this test serves on 127.0.0.1, with the issuer and
//! audience set. A key the provider adds later is picked up when a token
//! names it; made-up key ids do not flood the provider with fetches.
//! The keys are test keys made with openssl for this test (`fixtures/`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use imagegram_ingest::{Gateway, GatewaySettings, IdentityProvider, Ports};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const ISSUER: &str = "https://idp.example.test";
const AUDIENCE: &str = "imagegram";

struct Provider {
    keys: Arc<Mutex<JwkSet>>,
    fetches: Arc<AtomicUsize>,
    url: String,
}

/// Serves a JWKS document that the test can change, counting fetches.
async fn provider() -> Provider {
    let keys = Arc::new(Mutex::new(JwkSet { keys: Vec::new() }));
    let fetches = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get({
            let (keys, fetches) = (Arc::clone(&keys), Arc::clone(&fetches));
            move || async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                let set = keys
                    .lock()
                    .map(|k| k.clone())
                    .unwrap_or(JwkSet { keys: Vec::new() });
                axum::Json(set)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/.well-known/jwks.json",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Provider { keys, fetches, url }
}

fn signing_key(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_der(include_bytes!("fixtures/rsa-2048-pkcs1.der")),
        _ => EncodingKey::from_ec_der(include_bytes!("fixtures/ec-p256-pkcs8.der")),
    }
}

fn public_jwk(alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(&signing_key(alg), alg).expect("public jwk");
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn token(alg: Algorithm, kid: &str, claims: serde_json::Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &signing_key(alg)).expect("sign")
}

fn good_claims(sub: &str) -> serde_json::Value {
    json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now(), "exp": now() + 600})
}

/// 404 (no such post) once the token is accepted, 401 when it is not.
async fn status_with(router: &axum::Router, token: &str) -> StatusCode {
    let request = Request::post(format!("/v1/posts/{}/comments", uuid::Uuid::new_v4()))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(r#"{"content": "hello"}"#))
        .expect("request");
    router.clone().oneshot(request).await.expect("answer").status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_tokens_are_checked_against_its_keys() {
    let idp = provider().await;
    if let Ok(mut keys) = idp.keys.lock() {
        keys.keys.push(public_jwk(Algorithm::RS256, "rsa-1"));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let stack = imagegram_testkit::embedded(dir.path()).await;
    let ports = Ports {
        log: stack.log,
        stores: stack.stores,
        blobs: stack.blobs,
    };
    let mut settings = GatewaySettings::new(b"a shared secret of at least 32 bytes".to_vec());
    settings.identity = Some(IdentityProvider {
        jwks_url: idp.url.clone(),
        issuer: Some(ISSUER.into()),
        audience: Some(AUDIENCE.into()),
    });
    let stop = CancellationToken::new();
    let gateway = Gateway::build(ports, settings, stop.clone())
        .await
        .expect("gateway");
    let router = gateway.router();
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1, "fetched once at start");

    let rsa = token(Algorithm::RS256, "rsa-1", good_claims("ann"));
    assert_eq!(
        status_with(&router, &rsa).await,
        StatusCode::NOT_FOUND,
        "RS256 accepted"
    );

    let refused = [
        (
            "another issuer",
            json!({"sub": "ann", "iss": "https://evil.test", "aud": AUDIENCE, "exp": now() + 600}),
        ),
        (
            "another audience",
            json!({"sub": "ann", "iss": ISSUER, "aud": "someone-else", "exp": now() + 600}),
        ),
        (
            "no audience",
            json!({"sub": "ann", "iss": ISSUER, "exp": now() + 600}),
        ),
        (
            "not yet valid",
            json!({"sub": "ann", "iss": ISSUER, "aud": AUDIENCE, "nbf": now() + 600, "exp": now() + 1200}),
        ),
        (
            "expired",
            json!({"sub": "ann", "iss": ISSUER, "aud": AUDIENCE, "exp": now() - 600}),
        ),
        (
            "a control character",
            json!({"sub": "ann\u{7}", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600}),
        ),
    ];
    for (why, claims) in refused {
        let forged = token(Algorithm::RS256, "rsa-1", claims);
        assert_eq!(
            status_with(&router, &forged).await,
            StatusCode::UNAUTHORIZED,
            "{why}"
        );
    }
    // Signed by the EC key but naming the RSA key's id: refused.
    let mismatched = token(Algorithm::ES256, "rsa-1", good_claims("ann"));
    assert_eq!(status_with(&router, &mismatched).await, StatusCode::UNAUTHORIZED);

    // The provider adds an ES256 key: the first token naming it fetches the set again.
    if let Ok(mut keys) = idp.keys.lock() {
        keys.keys.push(public_jwk(Algorithm::ES256, "ec-2"));
    }
    let ec = token(Algorithm::ES256, "ec-2", good_claims("bob"));
    assert_eq!(
        status_with(&router, &ec).await,
        StatusCode::NOT_FOUND,
        "ES256 after rotation"
    );
    let after_rotation = idp.fetches.load(Ordering::SeqCst);
    assert_eq!(after_rotation, 2, "one fetch at start, one for the new key id");

    // Made-up key ids: refused, and at most one more fetch in ten seconds.
    for i in 0..50 {
        let made_up = token(Algorithm::RS256, &format!("made-up-{i}"), good_claims("eve"));
        assert_eq!(status_with(&router, &made_up).await, StatusCode::UNAUTHORIZED);
    }
    assert!(idp.fetches.load(Ordering::SeqCst) <= after_rotation + 1);

    // HS256 tokens with the shared secret still work beside the provider's.
    let shared = imagegram_ingest::Auth::from_secret(b"a shared secret of at least 32 bytes")
        .issue("carol", Duration::from_secs(60))
        .expect("issue");
    assert_eq!(status_with(&router, &shared).await, StatusCode::NOT_FOUND);
    stop.cancel();
}
