//! The web client at `/`, in Debian's Chromium driven by playwright-core
//! (`tests/web/browser.mjs`): development sign-in, a multi-megabyte post
//! through tus with the network cut mid-upload, the post told by the event
//! stream, a comment added and deleted, someone else's comment as a
//! notification, the feed scrolled past a page, an upload carried on after
//! a reload, and a phone-sized screen. Also: the page and its files are
//! served with a policy that loads nothing from elsewhere, the vendored
//! tus-js-client is the one the tests run, and development sign-in is
//! refused off loopback.

use std::process::Command;

use reqwest::StatusCode;

use crate::support::{environment, publish, App, Infra, BIN};

/// A dusk sky over a dark sea, `w`×`h`, with film grain: megabytes that
/// do not compress away.
fn dusk_png(w: u32, h: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let pixels = image::RgbImage::from_fn(w, h, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let grain = (state % 48) as f32 - 24.0;
        let t = y as f32 / h as f32;
        let sun = 1.0
            - (((x as f32 / w as f32) - 0.6).powi(2) + (t - 0.55).powi(2))
                .sqrt()
                .min(1.0);
        let (r, g, b) = if t < 0.62 {
            (
                70.0 + 185.0 * t + 90.0 * sun,
                40.0 + 120.0 * t + 60.0 * sun,
                110.0 - 60.0 * t + 20.0 * sun,
            )
        } else {
            (30.0 + 60.0 * sun, 45.0 + 30.0 * sun, 80.0 - 20.0 * t)
        };
        let channel = |v: f32| (v + grain).clamp(0.0, 255.0) as u8;
        image::Rgb([channel(r), channel(g), channel(b)])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    pixels
        .write_to(&mut bytes, image::ImageFormat::Png)
        .expect("png encodes");
    bytes.into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_posts_comments_and_scrolls_in_chromium() {
    let Some(chromium) = imagegram_testkit::service("IMAGEGRAM_TEST_CHROMIUM", "Chromium") else {
        return;
    };
    let Some(app) = App::start_with(
        Infra::Embedded,
        "serve",
        "web_client",
        &[("IMAGEGRAM_DEV_SIGN_IN", "true")],
    ) else {
        return;
    };
    // More than a page of posts by someone else.
    let carl = app.token("carl");
    for n in 0..12 {
        publish(&app, &carl, &format!("carl's photo {n}")).await;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let image = dir.path().join("harbour.png");
    let bytes = dusk_png(1600, 1200);
    assert!(bytes.len() > 2_500_000, "{} bytes", bytes.len());
    std::fs::write(&image, bytes).expect("image written");
    let shots = std::env::var("IMAGEGRAM_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("shots"));

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/web/browser.mjs");
    let mut node = Command::new("node");
    node.arg(script)
        .env("BASE", &app.base)
        .env("IMAGE", &image)
        .env("SHOTS", &shots)
        .env("BOB_TOKEN", app.token("bob"))
        .env("CHROMIUM", chromium);
    let out = tokio::task::spawn_blocking(move || node.output().expect("node runs"))
        .await
        .expect("the browser test ran");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser test failed:\n{said}");
    assert!(said.trim_end().ends_with("ok"), "{said}");
    for shot in ["desktop.png", "phone.png"] {
        let size = std::fs::metadata(shots.join(shot)).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "{shot}: {size} bytes");
    }
}

/// The page and its files load nothing from elsewhere and are revalidated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_with_its_files() {
    let Some(app) = App::start(Infra::Embedded, "serve", "the_page_is_served_with_its_files") else {
        return;
    };
    let page = app.client.get(app.url("/")).send().await.expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"),
        "{policy}"
    );
    assert!(page.headers()["content-type"]
        .to_str()
        .expect("text")
        .starts_with("text/html"));
    let html = page.text().await.expect("html");
    for file in [
        "/web/app.js",
        "/web/style.css",
        "/web/vendor/tus.min.js",
        "/web/icon.svg",
    ] {
        assert!(html.contains(file), "{file}");
        let answer = app.client.get(app.url(file)).send().await.expect("file");
        assert_eq!(answer.status(), StatusCode::OK, "{file}");
        let etag = answer.headers()["etag"].clone();
        let again = app
            .client
            .get(app.url(file))
            .header("if-none-match", etag)
            .send()
            .await
            .expect("file");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{file}");
    }
    let missing = app
        .client
        .get(app.url("/web/nothing.js"))
        .send()
        .await
        .expect("answer");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Development sign-in is off unless asked for.
    let dev = app
        .client
        .get(app.url("/v1/dev/sign-in"))
        .send()
        .await
        .expect("answer");
    assert_eq!(dev.status(), StatusCode::NOT_FOUND);
}

/// The page ships the tus-js-client the compatibility tests run.
#[test]
fn the_vendored_tus_client_is_the_tested_one() {
    let root = env!("CARGO_MANIFEST_DIR");
    let tested = std::path::Path::new(root).join("tests/tus-js/node_modules/tus-js-client/dist/tus.min.js");
    let Ok(tested) = std::fs::read(&tested) else {
        imagegram_testkit::skip(
            "tus-js-client's node_modules",
            "npm ci --prefix tests/tus-js (./x services runs it)",
        );
        return;
    };
    let shipped =
        std::fs::read(std::path::Path::new(root).join("ingest/web/vendor/tus.min.js")).expect("vendored");
    assert!(
        tested == shipped,
        "ingest/web/vendor/tus.min.js differs from the tested tus-js-client; copy it again"
    );
}

/// Development sign-in gives a token to any name, and only on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_sign_in_only_on_loopback() {
    let Some(env) = environment(Infra::Embedded, "development_sign_in_only_on_loopback") else {
        return;
    };
    let data = tempfile::tempdir().expect("temp dir");
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data.path())
        .args(["serve", "--dev-sign-in", "--listen", "0.0.0.0:0"])
        .args(["--metrics-listen", "off"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("imagegram runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs a loopback --listen address"), "{stderr}");

    let Some(app) = App::start_with(
        Infra::Embedded,
        "serve",
        "development_sign_in_only_on_loopback",
        &[("IMAGEGRAM_DEV_SIGN_IN", "true")],
    ) else {
        return;
    };
    let signed: serde_json::Value = app
        .client
        .post(app.url("/v1/dev/sign-in"))
        .json(&serde_json::json!({ "name": "dora" }))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    assert_eq!(signed["user"], "dora");
    let token = signed["token"].as_str().expect("token");
    let events = app
        .client
        .get(app.url("/v1/events"))
        .bearer_auth(token)
        .send()
        .await
        .expect("answer");
    assert_eq!(events.status(), StatusCode::OK, "the token is a user's");
    let bad = app
        .client
        .post(app.url("/v1/dev/sign-in"))
        .json(&serde_json::json!({ "name": "" }))
        .send()
        .await
        .expect("answer");
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}
