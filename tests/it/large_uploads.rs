//! Uploads at and past the 100 MiB limit: the limit holds, nothing partial
//! is kept, and the gateway's memory does not grow with the file. And a
//! resumable upload sent as two large PATCHes, whose chunks the blob store
//! joins (on S3 by server-side part copies) into an original that converts.

use crate::support::tus::{b64, create, patch};
use crate::support::{files_under, post_until, App, Infra};
use reqwest::StatusCode;

const LIMIT: u64 = 104_857_600;

/// `len` bytes that start like a png, streamed in 64 KiB chunks.
fn png_like_body(len: u64) -> reqwest::Body {
    let chunk = 64 * 1024u64;
    let chunks = len.div_ceil(chunk);
    let stream = futures::stream::iter((0..chunks).map(move |i| {
        let size = chunk.min(len - i * chunk) as usize;
        let mut bytes = vec![(i % 251) as u8; size];
        if i == 0 {
            bytes[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
        }
        Ok::<_, std::io::Error>(bytes)
    }));
    reqwest::Body::wrap_stream(stream)
}

async fn upload(app: &App, len: u64) -> reqwest::Response {
    let token = app.token("ann");
    let part = reqwest::multipart::Part::stream_with_length(png_like_body(len), len).file_name("huge.png");
    let form = reqwest::multipart::Form::new()
        .part("image", part)
        .text("caption", "big");
    app.client
        .post(app.url("/v1/posts"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload answered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byte_over_the_limit_is_413_and_leaves_nothing() {
    let Some(app) = App::start(Infra::Embedded, "ingest", "over_the_limit") else {
        return;
    };
    let response = upload(&app, LIMIT + 1).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let left = files_under(&app.data.path().join("blobs"));
    assert!(left.is_empty(), "partial objects left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_upload_does_not_grow_the_gateway_by_64_mib() {
    let Some(app) = App::start(Infra::Embedded, "ingest", "memory") else {
        return;
    };
    // Warm up: the first request allocates the server's buffers and pools.
    let warm = upload(&app, 1024 * 1024).await;
    assert_eq!(warm.status(), StatusCode::ACCEPTED);
    let (before, _) = app.memory_kib();
    let response = upload(&app, LIMIT).await;
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "exactly 100 MiB is accepted"
    );
    let (_, peak) = app.memory_kib();
    let growth_mib = peak.saturating_sub(before) as f64 / 1024.0;
    eprintln!("gateway resident memory: {before} KiB before, peak {peak} KiB, growth {growth_mib:.1} MiB");
    assert!(
        growth_mib < 64.0,
        "the gateway grew by {growth_mib:.1} MiB for a 100 MiB upload"
    );
    let stored: u64 = files_under(&app.data.path().join("blobs/originals"))
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .max()
        .unwrap_or(0);
    assert_eq!(stored, LIMIT, "the original is stored whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_byte_over_the_limit_is_413_on_s3_too() {
    let Some(app) = App::start(Infra::Distributed, "ingest", "over_the_limit_s3") else {
        return;
    };
    let response = upload(&app, LIMIT + 1).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// A png of noise, which deflate cannot shrink: 2100x2100 is about 13 MB.
fn noise_png(side: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(side, side, |x, y| {
        let mut h = (x as u64) << 32 | y as u64;
        h = (h ^ (h >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 29;
        image::Rgb([h as u8, (h >> 8) as u8, (h >> 16) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

async fn two_large_tus_chunks_become_one_original(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "two_large_tus_chunks") else {
        return;
    };
    let ann = app.token("ann");
    let bytes = noise_png(2100);
    assert!(bytes.len() > 12 << 20, "{} bytes", bytes.len());
    let location = create(
        &app,
        &ann,
        Some(bytes.len()),
        &format!("caption {}", b64("noise")),
    )
    .await;
    // Both chunks are over S3's 5 MiB part minimum, so both are copied.
    let split = 6 * 1024 * 1024 + 1;
    let first = patch(&app, &ann, &location, 0, &bytes[..split], &[]).await;
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    let last = patch(&app, &ann, &location, split, &bytes[split..], &[]).await;
    assert_eq!(last.status(), StatusCode::NO_CONTENT);
    // png checks every chunk's CRC and the stream's Adler-32: an original
    // joined out of order or short would fail to convert, not publish.
    let id = published_from(&app, &last).await;
    let id = id.as_str();
    if infra == Infra::Embedded {
        let original = std::fs::read(app.data.path().join("blobs").join(format!("originals/{id}")))
            .expect("original kept");
        assert!(original == bytes, "the original is byte-identical");
    }
}

/// An upload sent as 5,000 PATCHes (a phone on a bad line) keeps every
/// chunk in order and becomes one post.
async fn five_thousand_patches_become_one_post(infra: Infra) {
    let Some(app) = App::start(infra, "serve", "five_thousand_patches") else {
        return;
    };
    let ann = app.token("ann");
    let bytes = noise_png(50);
    assert!(bytes.len() >= 5_000, "{} bytes", bytes.len());
    let location = create(
        &app,
        &ann,
        Some(bytes.len()),
        &format!("caption {}", b64("patched")),
    )
    .await;
    let mut last = None;
    for i in 0..5_000 {
        let (start, end) = (i * bytes.len() / 5_000, (i + 1) * bytes.len() / 5_000);
        let response = patch(&app, &ann, &location, start, &bytes[start..end], &[]).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "PATCH {i}");
        last = Some(response);
    }
    published_from(&app, &last.expect("5,000 PATCHes")).await;
}

/// The post the upload's last PATCH names, once published; its id.
async fn published_from(app: &App, last: &reqwest::Response) -> String {
    let post = last.headers()["imagegram-post"]
        .to_str()
        .expect("the last PATCH names the post")
        .to_owned();
    let id = post.trim_start_matches("/v1/posts/").to_owned();
    let published = post_until(app, &id, |p| {
        p["status"] == "published" || p["status"] == "failed"
    })
    .await;
    assert_eq!(published["status"], "published", "{published}");
    id
}

on_both!(
    two_large_tus_chunks_become_one_original,
    five_thousand_patches_become_one_post
);
