//! The converter in its runner, on the embedded log, files and SQLite and
//! on Kafka, S3 and MySQL:
//! duplicates have one effect, poison is dead-lettered and the next event
//! is still processed; crashes are counted across restarts.

use std::sync::Arc;
use std::time::Duration;

use imagegram_blobstore::keys;
use imagegram_eventlog::{EventLog, Position, Record};
use imagegram_processors::convert::ConvertOptions;
use imagegram_processors::{ImageConverter, Lane, Runner, RunnerOptions, SMALL_ORIGINAL_BYTES};
use imagegram_schemas::topics::{self, Consumer};
use imagegram_schemas::{decode, encode, Event, EventMeta, ImageFormat, UploadRequested};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(320, 240, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

/// An upload of a small original (the small lane's).
fn upload(post: Uuid) -> Event {
    upload_of(post, 1)
}

fn upload_of(post: Uuid, byte_size: i64) -> Event {
    Event::UploadRequested(UploadRequested {
        meta: EventMeta {
            event_id: Uuid::new_v4(),
            idempotency_key: post.to_string(),
            actor: "ann".into(),
            occurred_at: 1,
            post_id: post,
            request_id: None,
        },
        caption: "c".into(),
        original_key: keys::original(post),
        format: ImageFormat::Png,
        byte_size,
        original_filename: None,
    })
}

async fn read_topic(log: &dyn EventLog, topic: &str, at_least: usize) -> Vec<Event> {
    let partitions = log.partitions(topic).await.expect("partitions");
    let mut reader = log
        .read_from(Position::beginning_of(topic, partitions))
        .await
        .expect("reader");
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while events.len() < at_least && tokio::time::Instant::now() < deadline {
        for record in reader.poll(100, Duration::from_millis(200)).await.expect("poll") {
            events.push(decode(&record.value).expect("decodes"));
        }
    }
    // A little longer, to see anything extra.
    for record in reader.poll(100, Duration::from_millis(500)).await.expect("poll") {
        events.push(decode(&record.value).expect("decodes"));
    }
    events
}

async fn duplicates_once_poison_to_the_dead_letters_and_on_to_the_next(stack: imagegram_testkit::Stack) {
    let (log, records) = (stack.log, stack.stores.requests);
    let blobs = stack.blobs;
    let (first, second) = (Uuid::new_v4(), Uuid::new_v4());
    for post in [first, second] {
        blobs
            .put(&keys::original(post), png().into())
            .await
            .expect("original");
    }
    let duplicate = upload(first);
    let uploads = topics::UPLOADS.name;
    let bytes = encode(&duplicate).expect("encode");
    // The same event twice (a producer retry), poison on the same key, then the next post.
    for value in [bytes.clone(), bytes, b"\xC3\x01 not avro at all".to_vec()] {
        log.append(uploads, vec![Record::new(duplicate.key(), value)])
            .await
            .expect("append");
    }
    let next = upload(second);
    log.append(
        uploads,
        vec![Record::new(next.key(), encode(&next).expect("encode"))],
    )
    .await
    .expect("append");

    let converter = Arc::new(ImageConverter::new(
        Arc::clone(&blobs),
        ConvertOptions::default(),
        2,
        Lane::Small,
    ));
    let runner = Runner {
        log: Arc::clone(&log),
        records,
        processor: converter,
        options: RunnerOptions::default(),
    };
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { runner.run(stop).await }
    });

    let results = read_topic(&*log, topics::IMAGES.name, 2).await;
    let converted: Vec<Uuid> = results
        .iter()
        .filter_map(|e| match e {
            Event::ImageConverted(c) => Some(c.meta.post_id),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 2, "one result per post: {results:?}");
    assert!(converted.contains(&first) && converted.contains(&second));
    for post in [first, second] {
        let jpeg = blobs.get(&keys::image(post)).await.expect("served image stored");
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]));
    }
    let letters = read_topic(&*log, Consumer::SmallImageConverter.dead_letter_topic().name, 1).await;
    assert_eq!(letters.len(), 1, "one dead letter");
    let Event::DeadLettered(letter) = &letters[0] else {
        panic!("a dead letter")
    };
    assert_eq!(letter.source_topic, uploads);
    assert!(letter.reason.starts_with("undecodable"), "{}", letter.reason);
    assert_eq!(letter.payload, b"\xC3\x01 not avro at all".to_vec());

    stop.cancel();
    running.await.expect("runner task").expect("runner stops cleanly");
}

/// An event whose handling killed the process three times (an image that
/// ran it out of memory, say) is dead-lettered by the next process before
/// it is tried a fourth time: the count is kept in the store, not in the
/// memory that died with each attempt. The next event is converted.
async fn attempts_that_killed_the_process_are_counted_across_restarts(stack: imagegram_testkit::Stack) {
    let (log, records, blobs) = (stack.log, stack.stores.requests, stack.blobs);
    let (deadly, fine) = (Uuid::new_v4(), Uuid::new_v4());
    for post in [deadly, fine] {
        blobs
            .put(&keys::original(post), png().into())
            .await
            .expect("original");
    }
    let deadly_event = upload(deadly);
    // Three earlier processes began handling it and never came back.
    let group = Consumer::SmallImageConverter.group();
    for _ in 0..3 {
        records
            .begin_attempt(group, deadly_event.meta().event_id)
            .await
            .expect("an attempt begun");
    }
    for event in [deadly_event.clone(), upload(fine)] {
        log.append(
            topics::UPLOADS.name,
            vec![Record::new(event.key(), encode(&event).expect("encode"))],
        )
        .await
        .expect("append");
    }
    let runner = Runner {
        log: Arc::clone(&log),
        records,
        processor: Arc::new(ImageConverter::new(
            Arc::clone(&blobs),
            ConvertOptions::default(),
            2,
            Lane::Small,
        )),
        options: RunnerOptions::default(),
    };
    let stop = CancellationToken::new();
    let running = tokio::spawn({
        let stop = stop.clone();
        async move { runner.run(stop).await }
    });
    let letters = read_topic(&*log, Consumer::SmallImageConverter.dead_letter_topic().name, 1).await;
    assert_eq!(letters.len(), 1, "one dead letter: {letters:?}");
    let Event::DeadLettered(letter) = &letters[0] else {
        panic!("a dead letter")
    };
    assert!(letter.reason.contains("killed 3 times"), "{}", letter.reason);
    let results = read_topic(&*log, topics::IMAGES.name, 1).await;
    assert_eq!(results.len(), 1, "only the next post is converted: {results:?}");
    assert!(matches!(&results[0], Event::ImageConverted(c) if c.meta.post_id == fine));
    assert!(
        blobs.get(&keys::image(deadly)).await.is_err(),
        "the deadly one was not tried again"
    );
    stop.cancel();
    running.await.expect("runner task").expect("runner stops cleanly");
}

/// The two lanes read every upload and each converts its own: a small
/// original and a large one are each converted once, by their lane.
async fn each_lane_converts_its_own_originals(stack: imagegram_testkit::Stack) {
    let (log, records, blobs) = (stack.log, stack.stores.requests, stack.blobs);
    let (small, large) = (Uuid::new_v4(), Uuid::new_v4());
    for (post, size) in [(small, 1), (large, SMALL_ORIGINAL_BYTES as i64 + 1)] {
        blobs
            .put(&keys::original(post), png().into())
            .await
            .expect("original");
        let event = upload_of(post, size);
        log.append(
            topics::UPLOADS.name,
            vec![Record::new(event.key(), encode(&event).expect("encode"))],
        )
        .await
        .expect("append");
    }
    let stop = CancellationToken::new();
    let mut running = Vec::new();
    for lane in Lane::ALL {
        let runner = Runner {
            log: Arc::clone(&log),
            records: Arc::clone(&records),
            processor: Arc::new(ImageConverter::new(
                Arc::clone(&blobs),
                ConvertOptions::default(),
                1,
                lane,
            )),
            options: RunnerOptions::default(),
        };
        let stop = stop.clone();
        running.push(tokio::spawn(async move { runner.run(stop).await }));
    }
    let results = read_topic(&*log, topics::IMAGES.name, 2).await;
    let mut converted: Vec<Uuid> = results
        .iter()
        .filter_map(|e| match e {
            Event::ImageConverted(c) => Some(c.meta.post_id),
            _ => None,
        })
        .collect();
    converted.sort();
    let mut expected = vec![small, large];
    expected.sort();
    assert_eq!(converted, expected, "each once: {results:?}");
    assert_eq!(results.len(), 2, "nothing else: {results:?}");
    stop.cancel();
    for runner in running {
        runner.await.expect("runner task").expect("runner stops cleanly");
    }
}

imagegram_testkit::on_both_stacks!(
    duplicates_once_poison_to_the_dead_letters_and_on_to_the_next,
    attempts_that_killed_the_process_are_counted_across_restarts,
    each_lane_converts_its_own_originals
);
