//! Compatibility with the real tus-js-client (npm `tus-js-client`, run
//! with the machine's Node.js; `.ci/run` installs it into `tests/tus-js`):
//! a 5 MB PNG in 1 MB chunks, with a network failure forced in the middle,
//! arrives byte-identical as one post.

use std::process::Command;

use crate::support::{App, Infra};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_js_client_uploads_through_a_network_failure() {
    let module = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tus-js");
    if !module.join("node_modules/tus-js-client").exists() {
        imagegram_testkit::skip(
            "tus-js-client's node_modules",
            "npm ci --prefix tests/tus-js (./x services runs it)",
        );
        return;
    }
    let Some(app) = App::start(Infra::Embedded, "serve", "tus_js_client") else {
        return;
    };
    let token = app.token("ann");
    // Noise, so the PNG stays about 5 MB and takes five 1 MB chunks.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let image = image::RgbImage::from_fn(1300, 1300, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let b = state.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let path = app.data.path().join("big.png");
    image.save(&path).expect("write png");
    let bytes = std::fs::read(&path).expect("read png");
    assert!(bytes.len() > 4 * 1024 * 1024, "{} bytes", bytes.len());
    let out = Command::new("node")
        .current_dir(&module)
        .arg("upload.mjs")
        .arg(&app.base)
        .arg(&token)
        .arg(&path)
        .arg("from node")
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "tus-js-client: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the script's JSON");
    let post = result["post"]
        .as_str()
        .expect("the last PATCH named the post")
        .to_owned();
    assert!(
        result["patches"].as_u64().is_some_and(|n| n >= 6),
        "a PATCH was retried: {result}"
    );
    let id = post.trim_start_matches("/v1/posts/");
    let original =
        std::fs::read(app.data.path().join("blobs").join(format!("originals/{id}"))).expect("original");
    assert!(original == bytes, "byte-identical original");
    // The read side follows the log: poll until the post is there.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let body: serde_json::Value = app
            .client
            .get(app.url(&post))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .unwrap_or_default();
        if body["caption"] == "from node" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the post never showed: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
