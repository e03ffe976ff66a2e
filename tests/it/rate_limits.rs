//! A flood from one user meets 429 (with `Retry-After` and the draft's
//! `RateLimit` fields, as problem+json) while another user in the same
//! second is served; anonymous reads are counted per client address.

use reqwest::StatusCode;

use crate::support::{comment, publish, App, Infra};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_meets_429_while_another_user_is_served() {
    let Some(app) = App::start_with(
        Infra::Embedded,
        "serve",
        "rate limits",
        &[
            ("IMAGEGRAM_COMMENTS_PER_MINUTE", "20"),
            ("IMAGEGRAM_READS_PER_MINUTE", "30"),
        ],
    ) else {
        return;
    };
    let (ann, bob) = (app.token("ann"), app.token("bob"));
    let post = publish(&app, &ann, "flooded").await;
    let post = post["id"].as_str().expect("post id").to_owned();

    let mut statuses = Vec::new();
    let mut refused = None;
    let flood_began = std::time::Instant::now();
    for i in 0..60 {
        let response = comment(&app, &ann, &post, &format!("flood {i}")).await;
        statuses.push(response.status());
        if response.status() == StatusCode::TOO_MANY_REQUESTS && refused.is_none() {
            refused = Some(response);
        }
    }
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // The bucket holds 20 and gains one every 3 s, however long the flood
    // took on this machine: at most that many are served, the rest refused.
    let refilled = (flood_began.elapsed().as_secs() / 3 + 1) as usize;
    assert!(created >= 20, "the first minute's worth is served: {created}");
    assert!(
        created <= 20 + refilled,
        "at most 20 and the {refilled} refilled since are served: {created}"
    );
    assert_eq!(created + limited, 60, "every other answer is 429: {statuses:?}");
    let refused = refused.expect("a 429");
    let headers = refused.headers().clone();
    assert_eq!(headers["content-type"], "application/problem+json");
    let wait: u64 = headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    assert_eq!(headers["ratelimit-policy"], "\"comments\";q=20;w=60");
    assert!(headers["ratelimit"]
        .to_str()
        .expect("text")
        .starts_with("\"comments\";r=0;t="));

    // Another user in the same second is served.
    let other = comment(&app, &bob, &post, "not part of the flood").await;
    assert_eq!(other.status(), StatusCode::CREATED);

    // Anonymous reads: counted per address, so this one address runs out.
    let mut read_statuses = Vec::new();
    for _ in 0..40 {
        let response = app.client.get(app.url("/v1/posts")).send().await.expect("feed");
        read_statuses.push(response.status());
    }
    assert!(read_statuses.contains(&StatusCode::TOO_MANY_REQUESTS));
    // With a token, reads count against the user instead.
    let with_token = app
        .client
        .get(app.url("/v1/posts"))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("feed");
    assert_eq!(with_token.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_cap_open_uploads_and_daily_bytes() {
    use crate::support::tus::{b64, create, TUS};
    let Some(app) = App::start_with(
        Infra::Embedded,
        "serve",
        "quotas",
        &[
            ("IMAGEGRAM_MAX_OPEN_UPLOADS", "2"),
            ("IMAGEGRAM_DAILY_UPLOAD_BYTES", "5000"),
        ],
    ) else {
        return;
    };
    let (ann, bob) = (app.token("ann"), app.token("bob"));
    let metadata = format!("filename {}", b64("a.png"));
    for _ in 0..2 {
        create(&app, &ann, Some(100), &metadata).await;
    }
    let third = app
        .client
        .post(app.url("/v1/uploads"))
        .bearer_auth(&ann)
        .header(TUS.0, TUS.1)
        .header("Upload-Length", "100")
        .send()
        .await
        .expect("create");
    assert_eq!(
        third.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a third open upload"
    );
    create(&app, &bob, Some(100), &metadata).await;

    // An upload declared larger than what is left of today is refused at once.
    let too_big = app
        .client
        .post(app.url("/v1/uploads"))
        .bearer_auth(&bob)
        .header(TUS.0, TUS.1)
        .header("Upload-Length", "6000")
        .send()
        .await
        .expect("create");
    assert_eq!(too_big.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(too_big.headers().contains_key("retry-after"));

    // A multipart post counts its bytes; once the day's bytes are used,
    // the next post is refused before its body is read.
    let first = publish(&app, &bob, "fits").await;
    assert!(first["id"].is_string());
    let mut refused = None;
    for _ in 0..10 {
        let response = app
            .client
            .post(app.url("/v1/posts"))
            .bearer_auth(&bob)
            .multipart(crate::support::image_form(
                crate::support::png(64, 64),
                "b.png",
                "more",
            ))
            .send()
            .await
            .expect("post");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(response);
            break;
        }
    }
    let refused = refused.expect("the daily quota is reached within 10 posts of 64x64 PNGs");
    let problem: serde_json::Value = refused.json().await.expect("problem");
    assert_eq!(problem["type"], "https://imagegram.dev/problems/daily-quota");
}
