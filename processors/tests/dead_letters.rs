//! `imagegram dlq list|replay`, on the embedded log and SQLite and on
//! Kafka and MySQL.

use imagegram_eventlog::{Position, Record};
use imagegram_processors::dead_letters;
use imagegram_schemas::dead_letter::{dead_letter, Origin};
use imagegram_schemas::topics::{self, Consumer};
use imagegram_schemas::{encode, now_us};

async fn dead_letters_are_listed_and_replayed_once(stack: imagegram_testkit::Stack) {
    let (log, store) = (stack.log, stack.stores.model);
    let consumer = Consumer::ImageConverter;
    for (i, payload) in [b"first poison".as_slice(), b"second poison".as_slice()]
        .iter()
        .enumerate()
    {
        let key = format!("post-{i}");
        let origin = Origin {
            topic: topics::UPLOADS.name,
            partition: 1,
            offset: i as u64,
            key: key.as_bytes(),
            value: payload,
        };
        let letter = dead_letter(consumer, origin, "undecodable", now_us());
        let topic = consumer.dead_letter_topic().name;
        log.append(
            topic,
            vec![Record::new(letter.key(), encode(&letter).expect("encode"))],
        )
        .await
        .expect("append");
    }
    let listed = dead_letters::list(&*log, consumer).await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].letter.reason, "undecodable");
    assert_eq!(
        dead_letters::replay(&log, &store, consumer)
            .await
            .expect("replay"),
        2
    );
    assert_eq!(
        dead_letters::replay(&log, &store, consumer)
            .await
            .expect("replay again"),
        0,
        "each once"
    );
    let uploads = topics::UPLOADS;
    let mut reader = log
        .read_from(Position::beginning_of(uploads.name, uploads.partitions))
        .await
        .expect("reader");
    // A poll returns what has arrived; on Kafka the two partitions' records
    // may come in separate polls.
    let mut payloads: Vec<Vec<u8>> = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while payloads.len() < 2 && tokio::time::Instant::now() < deadline {
        let back = reader
            .poll(100, std::time::Duration::from_millis(500))
            .await
            .expect("poll");
        payloads.extend(back.iter().map(|r| r.value.clone()));
    }
    payloads.sort();
    assert_eq!(
        payloads,
        vec![b"first poison".to_vec(), b"second poison".to_vec()]
    );
    assert_eq!(
        dead_letters::list(&*log, consumer).await.expect("list").len(),
        2,
        "listing never consumes"
    );
}

imagegram_testkit::on_both_stacks!(dead_letters_are_listed_and_replayed_once);
