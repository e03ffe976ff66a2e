//! Appends and reads: order per key, offsets, restarts, concurrency, volume.

use std::collections::BTreeMap;
use std::sync::Arc;

use imagegram_eventlog::{partition_for, Position, Record};

use super::*;

pub async fn order_per_key(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic(&*log, "order", 4).await;
    let (keys, per_key) = (20, 50);
    for round in 0..10 {
        let mut batch = Vec::new();
        for seq in round * 5..round * 5 + 5 {
            for k in 0..keys {
                batch.push(Record::new(key(k), value(k, seq)));
            }
        }
        log.append(&topic, batch).await.expect("append");
    }
    let mut reader = log
        .read_from(Position::beginning_of(&topic, 4))
        .await
        .expect("reader");
    let records = read_exactly(&mut *reader, keys * per_key, backend.patience()).await;
    for r in &records {
        assert_eq!(
            r.partition,
            partition_for(&r.key, 4),
            "a key's records all go to its murmur2 partition"
        );
    }
    for (k, values) in values_by_key(&records) {
        let k: usize = String::from_utf8_lossy(&k)[5..].parse().expect("key");
        let expected: Vec<_> = (0..per_key).map(|s| value(k, s)).collect();
        assert_eq!(values, expected, "records of one key come back in append order");
    }
}

pub async fn read_from_an_offset(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic(&*log, "offset", 3).await;
    let records: Vec<Record> = (0..300)
        .map(|i| Record::new(key(i % 7), value(i % 7, i)))
        .collect();
    let appended = log.append(&topic, records.clone()).await.expect("append");
    let ends = log.end_offsets(&topic).await.expect("end offsets");
    assert_eq!(ends.iter().sum::<u64>(), 300);
    let (partition, end) = ends
        .iter()
        .enumerate()
        .max_by_key(|(_, &e)| e)
        .map(|(p, &e)| (p as u32, e))
        .expect("ends");
    let from = end / 2;
    let mut reader = log
        .read_from(vec![Position::new(&topic, partition, from)])
        .await
        .expect("reader");
    let got = read_exactly(&mut *reader, (end - from) as usize, backend.patience()).await;
    let expected: Vec<&Vec<u8>> = appended
        .iter()
        .zip(&records)
        .filter(|(a, _)| a.partition == partition && a.offset >= from)
        .map(|(_, r)| &r.value)
        .collect();
    let got_values: Vec<&Vec<u8>> = got.iter().map(|r| &r.value).collect();
    assert_eq!(got_values, expected);
    assert_eq!(got.first().map(|r| r.offset), Some(from));
}

pub async fn restart_loses_and_duplicates_nothing(backend: &dyn Backend) {
    let topic;
    {
        let log = backend.open().await;
        topic = new_topic(&*log, "restart", 4).await;
        for round in 0..5 {
            let batch = (0..100)
                .map(|i| Record::new(key(i % 13), value(i % 13, round * 100 + i)))
                .collect();
            log.append(&topic, batch).await.expect("append before restart");
        }
    }
    let log = backend.open().await;
    for round in 5..10 {
        let batch = (0..100)
            .map(|i| Record::new(key(i % 13), value(i % 13, round * 100 + i)))
            .collect();
        log.append(&topic, batch).await.expect("append after restart");
    }
    let mut reader = log
        .read_from(Position::beginning_of(&topic, 4))
        .await
        .expect("reader");
    let records = read_exactly(&mut *reader, 1000, backend.patience()).await;
    index_by_value(&records);
    let mut offsets: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for r in &records {
        offsets.entry(r.partition).or_default().push(r.offset);
    }
    for (partition, offsets) in offsets {
        let expected: Vec<u64> = (0..offsets.len() as u64).collect();
        assert_eq!(
            offsets, expected,
            "partition {partition} has no gaps or repeats across the restart"
        );
    }
}

pub async fn concurrent_producers(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic(&*log, "concurrent", 4).await;
    let (producers, each) = (8, 250);
    let mut tasks = Vec::new();
    for p in 0..producers {
        let (log, topic) = (Arc::clone(&log), topic.clone());
        tasks.push(tokio::spawn(async move {
            for seq in 0..each {
                log.append(&topic, vec![Record::new(key(p), value(p, seq))])
                    .await
                    .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("producer task");
    }
    let mut reader = log
        .read_from(Position::beginning_of(&topic, 4))
        .await
        .expect("reader");
    let records = read_exactly(&mut *reader, producers * each, backend.patience()).await;
    index_by_value(&records);
    for (k, values) in values_by_key(&records) {
        let k: usize = String::from_utf8_lossy(&k)[5..].parse().expect("key");
        assert_eq!(values, (0..each).map(|s| value(k, s)).collect::<Vec<_>>());
    }
}

pub async fn a_batch_of_100k(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic(&*log, "bulk", 8).await;
    let total = 100_000;
    let batch: Vec<Record> = (0..total)
        .map(|i| Record::new(key(i % 1000), value(i % 1000, i / 1000)))
        .collect();
    let appended = log.append(&topic, batch).await.expect("append 100k");
    assert_eq!(appended.len(), total);
    let mut reader = log
        .read_from(Position::beginning_of(&topic, 8))
        .await
        .expect("reader");
    let records = read_exactly(&mut *reader, total, backend.patience() * 4).await;
    assert_eq!(index_by_value(&records).len(), total);
    for (_, values) in values_by_key(&records) {
        assert!(values.windows(2).all(|w| w[0] < w[1]), "per-key order kept");
    }
}
