//! A record the read database refuses for what it holds (here a caption
//! longer than MariaDB's TEXT column, from a producer that skipped the
//! gateway's checks) is found by halving its batch, dead-lettered with the
//! database's reason, and every other record of the batch is applied. Runs
//! on MariaDB, whose strict mode refuses the value; SQLite would store it.

use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::Position;
use imagegram_projections::{Projector, READ_MODEL};
use imagegram_schemas::topics::Consumer;
use imagegram_schemas::{decode, Event};
use imagegram_testkit::workload::{append_all, workload};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_is_dead_lettered_and_the_rest_applied() {
    let Some(stores) = imagegram_testkit::mysql_store().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let log = imagegram_testkit::embedded_log(dir.path()).await;
    let model = stores.model;
    let mut work = workload(40, 400, 5);
    let mut uploads = work.events.iter_mut().filter_map(|e| match e {
        Event::UploadRequested(upload) => Some(upload),
        _ => None,
    });
    let refused = uploads.nth(17).expect("an 18th post");
    refused.caption = "x".repeat(70_000);
    let refused_post = refused.meta.post_id;
    append_all(&*log, &work.events, 1_000).await;
    let projector = Projector::new(Arc::clone(&log), Arc::clone(&model), READ_MODEL);
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { projector.run(stop).await }
    });
    let total = work.events.len() as u64;
    imagegram_testkit::caught_up(&*model, READ_MODEL, total, Duration::from_secs(120)).await;
    stop.cancel();
    running
        .await
        .expect("projector task")
        .expect("projector stops cleanly");

    let all: Vec<_> = work.posts.clone();
    let present = model.posts(&all).await.expect("posts");
    assert!(
        present.iter().all(|p| p.id != refused_post),
        "the refused post is not served"
    );
    assert_eq!(present.len(), all.len() - 1, "every other post is applied");

    let topic = Consumer::Projector.dead_letter_topic().name;
    let mut reader = log
        .read_from(vec![Position::new(topic, 0, 0)])
        .await
        .expect("read dead letters");
    let letters = reader.poll(10, Duration::from_secs(5)).await.expect("poll");
    let reasons: Vec<String> = letters
        .iter()
        .filter_map(|record| match decode(&record.value) {
            Ok(Event::DeadLettered(letter)) => Some(letter.reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("refuses"), "{reasons:?}");
}
