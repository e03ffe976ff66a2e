//! A full disk under the embedded mode: the data directory on a small
//! tmpfs of the test's own, filled by another file while comments arrive.
//! Writes are refused with 503, never 500; the feed is still served;
//! `/readyz` names a store; once the other file goes, writes come back by
//! themselves (the embedded log reopens its file); after a kill -9 and a
//! start, every acknowledged comment is there exactly once.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::tmpfs::Tmpfs;
use crate::support::{environment, get_json, image_form, png, App, Infra};

/// Fills the disk but for `left` bytes; the filler's path.
fn fill_but(disk: &Tmpfs, left: u64) -> std::path::PathBuf {
    let path = disk.path().join("filler");
    let free = {
        let out = std::process::Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(disk.path())
            .output()
            .expect("df runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse::<u64>().ok())
            .expect("df's answer")
    };
    let filler = std::fs::File::create(&path).expect("the filler");
    filler.set_len(0).expect("empty");
    // Written, not a sparse length: tmpfs counts only what is written.
    use std::io::Write;
    let mut filler = std::io::BufWriter::new(filler);
    let block = vec![0u8; 1 << 20];
    let mut left_to_write = free.saturating_sub(left);
    while left_to_write > 0 {
        let n = left_to_write.min(block.len() as u64) as usize;
        filler.write_all(&block[..n]).expect("the filler fits");
        left_to_write -= n as u64;
    }
    filler.flush().expect("the filler is written");
    path
}

async fn comment(app: &App, token: &str, post: &str, n: usize) -> StatusCode {
    app.client
        .post(app.url(&format!("/v1/posts/{post}/comments")))
        .bearer_auth(token)
        .json(&serde_json::json!({ "content": format!("{n}: {}", "x".repeat(900)) }))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("an answer")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_and_they_come_back_when_space_does() {
    let test = "a_full_disk_refuses_writes_with_503_and_they_come_back_when_space_does";
    let disk = Tmpfs::mount("48m");
    let mut env = environment(Infra::Embedded, test).expect("the embedded mode needs nothing");
    // The default durability: every append fsynced. (`process`, which the
    // other tests use, leaves redb's commits in its own memory until a
    // durable one, so they meet no full disk.)
    env.retain(|(k, _)| k != "IMAGEGRAM_EVENT_LOG_DURABILITY");
    let data = tempfile::tempdir_in(disk.path()).expect("a data dir on the small disk");
    let mut app = App::start_in(data, env, "serve");
    let token = app.token("ann");
    let answer = app
        .client
        .post(app.url("/v1/posts?wait=60"))
        .bearer_auth(&token)
        .multipart(image_form(png(64, 48), "a.png", "on a small disk"))
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), StatusCode::CREATED);
    let post: Value = answer.json().await.expect("json");
    let post = post["id"].as_str().expect("id").to_owned();

    // The fill: comments until twenty in a row are refused.
    let filler = fill_but(&disk, 2 << 20);
    let (mut acknowledged, mut refused_in_a_row, mut refused) = (0usize, 0, 0);
    let mut n = 0;
    while refused_in_a_row < 20 {
        assert!(n < 50_000, "2 MiB never filled");
        match comment(&app, &token, &post, n).await {
            StatusCode::CREATED => {
                acknowledged += 1;
                refused_in_a_row = 0;
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                refused += 1;
                refused_in_a_row += 1;
            }
            other => panic!("a write on a full disk answered {other}"),
        }
        n += 1;
        if n % 500 == 0 {
            println!("{n} comments sent: {acknowledged} acknowledged, {refused} refused");
        }
    }
    // Reads go on; readiness names what cannot write.
    let page = get_json(&app, "/v1/posts?limit=5").await;
    assert!(
        page["items"].as_array().is_some_and(|items| !items.is_empty()),
        "{page}"
    );
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = ready.json().await.expect("a problem body");
    assert!(
        ready["checks"]
            .as_object()
            .is_some_and(|checks| checks.values().any(|v| v == "unavailable")),
        "{ready}"
    );

    // Space comes back: writes resume with no restart.
    std::fs::remove_file(&filler).expect("the filler goes");
    let freed = Instant::now();
    let resumed = imagegram_testkit::eventually(Duration::from_secs(60), "a write accepted again", || {
        let (app, token, post) = (&app, &token, &post);
        async move {
            match comment(app, token, post, n).await {
                StatusCode::CREATED => Ok(freed.elapsed()),
                StatusCode::SERVICE_UNAVAILABLE => Err("still 503".to_owned()),
                other => panic!("a write after space came back answered {other}"),
            }
        }
    })
    .await;
    acknowledged += 1;
    let ready = app.client.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK, "ready again once space is back");

    // A crash and a start: every acknowledged comment, once.
    app.crash_and_start();
    let counted = imagegram_testkit::eventually(
        Duration::from_secs(120),
        "every acknowledged comment counted after the restart",
        || {
            let app = &app;
            let post = &post;
            async move {
                let view = get_json(app, &format!("/v1/posts/{post}")).await;
                let count = view["comment_count"].as_u64().unwrap_or(0) as usize;
                if count >= acknowledged {
                    Ok(count)
                } else {
                    Err(format!("{count} of {acknowledged}"))
                }
            }
        },
    )
    .await;
    assert_eq!(counted, acknowledged, "each acknowledged comment exactly once");
    println!(
        "full disk: {acknowledged} comments acknowledged, {refused} refused with 503; \
         writes resumed {resumed:?} after space came back"
    );
}
