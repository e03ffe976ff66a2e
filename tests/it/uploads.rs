//! Resumable uploads (tus 1.0) over HTTP, on both infrastructures: a
//! client whose connection is cut at random points resumes until done and
//! gets a byte-identical original and one post; a resume after a gateway
//! restart; deferred length; a wrong offset (409), a bad checksum (460),
//! someone else's upload (404), termination, `POST /v1/posts` with an
//! `upload_id`, and two PATCHes racing at one offset.

use std::time::Duration;

use futures::StreamExt;

use crate::support::tus::{b64, create, cut_patch, offset_of, patch, TUS};
use crate::support::{png, post_until, App, Infra};
use reqwest::StatusCode;
use serde_json::Value;
use sha1::{Digest, Sha1};

fn image() -> Vec<u8> {
    png(900, 700)
}

async fn cut_connections_resume_to_one_post(infra: Infra) {
    let Some(mut app) = App::start(infra, "serve", "cut_connections_resume_to_one_post") else {
        return;
    };
    let ann = app.token("ann");
    let bytes = image();
    let metadata = format!("caption {},filename {}", b64("tunnel"), b64("photo.png"));
    let location = create(&app, &ann, Some(bytes.len()), &metadata).await;
    let mut seed = 0x9E37_79B9u64;
    let mut cuts = 0;
    let mut restarted = false;
    let mut attempts = 0;
    let post = loop {
        let (_, offset) = offset_of(&app, &ann, &location).await;
        let offset = offset.expect("an offset");
        let rest = &bytes[offset..];
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if cuts < 5 && rest.len() > 1_000 {
            cut_patch(
                &app,
                &ann,
                &location,
                offset,
                rest,
                1 + (seed as usize % (rest.len() / 2)),
            );
            cuts += 1;
            if cuts == 3 && !restarted {
                app.restart();
                restarted = true;
            }
            continue;
        }
        let response = patch(&app, &ann, &location, offset, rest, &[]).await;
        let status = response.status();
        if status == StatusCode::CONFLICT && attempts < 20 {
            // A cut request's bytes landed after our HEAD: ask again, as tus clients do.
            attempts += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        if status != StatusCode::NO_CONTENT {
            panic!(
                "last PATCH: {status} {}",
                response.text().await.unwrap_or_default()
            );
        }
        assert_eq!(
            response.headers()["upload-offset"],
            bytes.len().to_string().as_str()
        );
        break response.headers()["imagegram-post"]
            .to_str()
            .expect("post")
            .to_owned();
    };
    // The restart left the consumer groups empty; the new process's members
    // rejoin them and the post still gets converted and published.
    let post_json = post_until(&app, post.trim_start_matches("/v1/posts/"), |p| {
        p["status"] == "published"
    })
    .await;
    assert_eq!(post_json["caption"], "tunnel");
    // One post: a last PATCH again is refused, the upload names the same post.
    let again = patch(&app, &ann, &location, bytes.len(), b"", &[]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    if infra == Infra::Embedded {
        let id = post.trim_start_matches("/v1/posts/");
        let original = std::fs::read(app.data.path().join("blobs").join(format!("originals/{id}")))
            .expect("original kept");
        assert!(original == bytes, "the original is byte-identical");
    }
}

async fn offsets_checksums_owners_and_termination(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "offsets_checksums_owners_and_termination") else {
        return;
    };
    let (ann, bob) = (app.token("ann"), app.token("bob"));
    let options = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/v1/uploads"))
        .send()
        .await
        .expect("options");
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(options.headers()["tus-max-size"], "104857600");
    assert!(options.headers()["tus-extension"]
        .to_str()
        .unwrap_or_default()
        .contains("creation-defer-length"));

    let bytes = image();
    let location = create(&app, &ann, None, "").await;
    let first = &bytes[..1000];
    let wrong = patch(&app, &ann, &location, 5, first, &[]).await;
    assert_eq!(wrong.status(), StatusCode::CONFLICT);
    let bad_sum = format!("sha1 {}", b64(Sha1::digest(b"other bytes")));
    let bad = patch(&app, &ann, &location, 0, first, &[("Upload-Checksum", bad_sum)]).await;
    assert_eq!(bad.status().as_u16(), 460);
    assert_eq!(offset_of(&app, &ann, &location).await.1, Some(0), "nothing kept");
    let good_sum = format!("sha1 {}", b64(Sha1::digest(first)));
    let good = patch(&app, &ann, &location, 0, first, &[("Upload-Checksum", good_sum)]).await;
    assert_eq!(good.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        offset_of(&app, &ann, &location).await,
        (StatusCode::OK, Some(1000))
    );
    assert_eq!(
        offset_of(&app, &bob, &location).await.0,
        StatusCode::NOT_FOUND,
        "someone else's upload"
    );
    assert_eq!(
        patch(&app, &bob, &location, 1000, b"x", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    let no_version = app
        .client
        .head(app.url(&location))
        .bearer_auth(&ann)
        .send()
        .await
        .expect("head");
    assert_eq!(no_version.status(), StatusCode::PRECONDITION_FAILED);
    let too_large = app
        .client
        .post(app.url("/v1/uploads"))
        .bearer_auth(&ann)
        .header(TUS.0, TUS.1)
        .header("Upload-Length", "104857601")
        .send()
        .await
        .expect("create");
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // The length arrives with the last bytes; no caption: POST /v1/posts names the upload.
    let last = patch(
        &app,
        &ann,
        &location,
        1000,
        &bytes[1000..],
        &[("Upload-Length", bytes.len().to_string())],
    )
    .await;
    assert_eq!(last.status(), StatusCode::NO_CONTENT);
    assert!(
        last.headers().get("imagegram-post").is_none(),
        "no caption: not posted yet"
    );
    let id = location.trim_start_matches("/v1/uploads/");
    let body = serde_json::json!({ "upload_id": id, "caption": "later" });
    let by_bob = app
        .client
        .post(app.url("/v1/posts"))
        .bearer_auth(&bob)
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(by_bob.status(), StatusCode::NOT_FOUND);
    let posted = app
        .client
        .post(app.url("/v1/posts?wait=60"))
        .bearer_auth(&ann)
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), StatusCode::CREATED);
    let post: Value = posted.json().await.expect("json");
    assert_eq!(post["caption"], "later");

    // Termination.
    let doomed = create(&app, &ann, Some(10), "").await;
    let gone = app
        .client
        .delete(app.url(&doomed))
        .bearer_auth(&ann)
        .header(TUS.0, TUS.1)
        .send()
        .await
        .expect("delete");
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    assert_eq!(offset_of(&app, &ann, &doomed).await.0, StatusCode::NOT_FOUND);
}

/// Two PATCHes at one offset, the first still sending when the second
/// arrives: one is kept and answered 204, the other is told 409, and the
/// upload holds the kept one's bytes alone, never a mix of the two (in
/// place, both would write into the one object).
async fn racing_patches_keep_one(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "racing_patches_keep_one") else {
        return;
    };
    let ann = app.token("ann");
    let bytes = image();
    let half = bytes.len() / 2;
    let location = create(&app, &ann, Some(bytes.len()), "").await;
    let slow_bytes = bytes[..half].to_vec();
    let fast_bytes: Vec<u8> = slow_bytes.iter().map(|b| b ^ 0xff).collect();

    // The slow one sends a quarter, then waits for `go` before the rest.
    let (go, went) = tokio::sync::oneshot::channel::<()>();
    let (head, tail) = (slow_bytes[..half / 2].to_vec(), slow_bytes[half / 2..].to_vec());
    let body =
        futures::stream::iter([Ok::<_, std::io::Error>(head)]).chain(futures::stream::once(async move {
            let _ = went.await;
            Ok(tail)
        }));
    let slow = app
        .client
        .patch(app.url(&location))
        .bearer_auth(&ann)
        .header(TUS.0, TUS.1)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .header("Content-Length", half.to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let slow = tokio::spawn(slow);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fast = tokio::spawn({
        let (app_client, url, ann, fast_bytes) = (
            app.client.clone(),
            app.url(&location),
            ann.clone(),
            fast_bytes.clone(),
        );
        async move {
            app_client
                .patch(url)
                .bearer_auth(&ann)
                .header(TUS.0, TUS.1)
                .header("Content-Type", "application/offset+octet-stream")
                .header("Upload-Offset", "0")
                .body(fast_bytes)
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = go.send(());
    // The refused one may be answered while its body is still going out,
    // and see its connection closed rather than the 409.
    let slow = slow.await.expect("slow task").map(|r| r.status()).ok();
    let fast = fast.await.expect("fast task").map(|r| r.status()).ok();
    let kept = [slow, fast]
        .iter()
        .filter(|s| **s == Some(StatusCode::NO_CONTENT))
        .count();
    let refused = [slow, fast]
        .iter()
        .filter(|s| matches!(s, Some(StatusCode::CONFLICT) | None))
        .count();
    assert_eq!(
        (kept, refused),
        (1, 1),
        "one kept, one refused (slow {slow:?}, fast {fast:?})"
    );
    assert_eq!(offset_of(&app, &ann, &location).await.1, Some(half));
    if infra == Infra::Embedded {
        let id = location.trim_start_matches("/v1/uploads/").replace('-', "");
        let whole = app
            .data
            .path()
            .join("blobs")
            .join(format!("uploads/{id}/000000000000-whole"));
        let stored = std::fs::read(whole).expect("the upload's object");
        let kept = if slow == Some(StatusCode::NO_CONTENT) {
            &slow_bytes
        } else {
            &fast_bytes
        };
        assert!(stored == *kept, "the upload holds the kept PATCH's bytes alone");
    }
}

on_both!(
    cut_connections_resume_to_one_post,
    offsets_checksums_owners_and_termination,
    racing_patches_keep_one
);

/// Expired partial uploads lose their bytes and state to the sweep; live
/// ones stay.
async fn the_sweep_deletes_expired_uploads(stack: imagegram_testkit::Stack) {
    use imagegram_readstore::Upload;
    let now = imagegram_schemas::now_us();
    const PART: &str = "000000000000-abc";
    let upload = |expires_at| Upload {
        id: uuid::Uuid::new_v4(),
        owner: "ann".into(),
        length: Some(10),
        offset: 0,
        metadata: String::new(),
        created_at: now,
        expires_at,
        post_id: None,
        first_part: None,
    };
    let (old, fresh) = (upload(now - 1), upload(now + 3_600_000_000));
    for u in [&old, &fresh] {
        stack.stores.uploads.create_upload(u).await.expect("create");
        let mut advanced = u.clone();
        advanced.offset = 4;
        let moved = stack
            .stores
            .uploads
            .advance_upload(&advanced, 0, Some(PART))
            .await;
        assert!(moved.expect("advance"));
        let key = format!("uploads/{}/{PART}", u.id.simple());
        stack
            .blobs
            .put(&key, b"abcd".to_vec().into())
            .await
            .expect("part");
    }
    assert!(imagegram_ingest::tus::sweep_expired(&*stack.stores.uploads, &*stack.blobs).await >= 1);
    assert_eq!(stack.stores.uploads.upload(old.id).await.expect("read"), None);
    let gone = stack
        .blobs
        .get(&format!("uploads/{}/{PART}", old.id.simple()))
        .await;
    assert!(gone.is_err(), "the expired upload's bytes are deleted");
    assert!(stack
        .stores
        .uploads
        .upload(fresh.id)
        .await
        .expect("read")
        .is_some());
}

mod sweep {
    use super::the_sweep_deletes_expired_uploads;
    imagegram_testkit::on_both_stacks!(the_sweep_deletes_expired_uploads);
}
