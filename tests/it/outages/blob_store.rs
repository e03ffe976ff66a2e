//! S3 (moto) cut in the middle of an upload, then restored.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::*;
use futures::StreamExt;

use crate::support::{png, publish};

/// A multipart body whose image part is a PNG header and then `total`
/// bytes sent in 1 MiB pieces; `sent` counts them as they go.
fn slow_upload(
    total: usize,
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> reqwest::multipart::Form {
    let head = png(8, 8);
    let pieces = total / (1 << 20);
    let stream = futures::stream::iter(0..=pieces).then(move |i| {
        let (head, sent) = (head.clone(), std::sync::Arc::clone(&sent));
        async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            sent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let piece = if i == 0 {
                head
            } else {
                vec![(i % 251) as u8; 1 << 20]
            };
            Ok::<_, std::io::Error>(piece)
        }
    });
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream)).file_name("big.png");
    reqwest::multipart::Form::new()
        .part("image", part)
        .text("caption", "cut off")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_away_during_an_upload() {
    use imagegram_blobstore::BlobStore;
    let Some((cluster, s3)) = behind_a_cut("s3_away", "IMAGEGRAM_S3_ENDPOINT").await else {
        return;
    };
    let gateway = &cluster.gateways[0];
    let ann = cluster.token("ann");
    publish(gateway, &ann, "before the outage").await;

    // Cut in the middle of a 24 MiB upload, after its first 8 MiB part.
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let upload = {
        let (url, form) = (
            gateway.url("/v1/posts"),
            slow_upload(24 << 20, std::sync::Arc::clone(&sent)),
        );
        let ann = ann.clone();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(ann)
                .multipart(form)
                .send()
                .await
        })
    };
    while sent.load(std::sync::atomic::Ordering::SeqCst) < 12 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s3.cut();
    let cut_at = Instant::now();
    match upload.await.expect("upload task") {
        Ok(response) => {
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(response.headers().contains_key("retry-after"));
        }
        // The gateway may answer and close before the client has sent
        // everything; the client then sees the connection end.
        Err(e) => eprintln!("the cut upload ended without an answer read: {e}"),
    }
    // A new upload while S3 is away: 503, and readyz names the blob store.
    upload_is_refused(gateway, &ann).await;
    let (status, checks) = readiness(gateway).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{checks}");
    assert_eq!(checks["checks"]["blob_store"], "unavailable", "{checks}");
    assert_eq!(checks["checks"]["read_store"], "ok", "{checks}");

    tokio::time::sleep(OUTAGE.saturating_sub(cut_at.elapsed())).await;
    s3.restore();
    let back_at = Instant::now();
    let after = publish(gateway, &ann, "after the outage").await;
    let pipeline_back = back_at.elapsed();
    assert_eq!(after["status"], "published");

    // Nothing half-written: the cut upload's parts are aborted once S3 is
    // back (no multipart upload is left to sweep), and only the two
    // published posts have originals.
    let store = imagegram_blobstore::s3::S3Store::connect({
        let env = &cluster.env;
        let value = |k: &str| crate::support::value(env, k).expect(k).to_owned();
        let mut config = imagegram_blobstore::s3::S3Config::new(value("IMAGEGRAM_S3_BUCKET"));
        config.endpoint = Some(std::env::var("IMAGEGRAM_TEST_S3_ENDPOINT").expect("s3"));
        config.path_style = true;
        config.access_key_id = Some("test".into());
        config.secret_access_key = Some("test".into());
        config
    })
    .await
    .expect("s3 store");
    let far_future = imagegram_schemas::now_us() + 3_600_000_000;
    // The gateway retries a failed abort (every 5 s at most): wait for the
    // bucket to list no multipart upload in progress (S3's
    // ListMultipartUploads, which moto answers unsigned), then check that
    // the sweep finds none either.
    let uploads = format!(
        "{}/{}?uploads",
        std::env::var("IMAGEGRAM_TEST_S3_ENDPOINT")
            .expect("s3")
            .trim_end_matches('/'),
        crate::support::value(&cluster.env, "IMAGEGRAM_S3_BUCKET").expect("bucket")
    );
    imagegram_testkit::eventually(
        Duration::from_secs(120),
        "the cut upload's multipart upload aborted",
        || async {
            let listing = reqwest::get(&uploads)
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            if listing.contains("<Upload>") {
                Err(listing)
            } else {
                Ok(())
            }
        },
    )
    .await;
    let left = store
        .drop_abandoned_writes(far_future)
        .await
        .expect("list multipart uploads");
    assert_eq!(left, 0, "a multipart upload was left half-written");
    let originals = store
        .list_older("originals/", far_future, 100)
        .await
        .expect("list");
    assert_eq!(
        originals.len(),
        2,
        "only the published posts' originals: {originals:?}"
    );
    eprintln!(
        "S3 away for {:?}; after its return a new post was published in {pipeline_back:?}",
        back_at - cut_at
    );
}
