//! `imagegram rebuild` while `imagegram serve` runs on the embedded log:
//! the log file belongs to the server, so the command asks the server
//! (`POST /v1/admin/rebuild` with an operator token) and reports its
//! counts; the feed keeps its numbers. The admin route refuses user tokens.

use crate::support::{comment, post_until, publish, App, Infra};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_asks_the_running_server_that_holds_the_log() {
    let Some(app) = App::start(Infra::Embedded, "serve", "rebuild_cli") else {
        return;
    };
    let ann = app.token("ann");
    let post = publish(&app, &ann, "rebuilt").await;
    let id = post["id"].as_str().expect("id").to_owned();
    for text in ["one", "two", "three"] {
        assert_eq!(comment(&app, &ann, &id, text).await.status(), StatusCode::CREATED);
    }
    post_until(&app, &id, |p| p["comment_count"] == 3).await;

    let refused = app
        .client
        .post(app.url("/v1/admin/rebuild"))
        .bearer_auth(&ann)
        .send()
        .await
        .expect("answer");
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "a user token is not an operator's"
    );
    let anonymous = app
        .client
        .post(app.url("/v1/admin/rebuild"))
        .send()
        .await
        .expect("answer");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let mut rebuild = app.command(&["rebuild"]);
    rebuild
        .env_remove("IMAGEGRAM_SERVER")
        .env("IMAGEGRAM_EVENT_LOG_DURABILITY", "process");
    let out = tokio::task::spawn_blocking(move || rebuild.output().expect("imagegram rebuild"))
        .await
        .expect("rebuild ran");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rebuild failed: {stderr}");
    assert!(stderr.contains("asking http://"), "{stderr}");
    assert!(
        stderr.contains("1 posts (1 published), 3 live comments"),
        "{stderr}"
    );
    let after = post_until(&app, &id, |p| p["status"] == "published").await;
    assert_eq!(after["comment_count"], 3);
    // The projector goes on from the rebuilt tables.
    assert_eq!(
        comment(&app, &ann, &id, "four").await.status(),
        StatusCode::CREATED
    );
    post_until(&app, &id, |p| p["comment_count"] == 4).await;
}
