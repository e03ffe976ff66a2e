//! The one contract every event-log adapter must honour. Each adapter's test
//! file implements [`Backend`] and expands [`contract_suite!`].

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::{partition_for, Delivered, EventLog, LogReader, Position, Record, TopicSpec};

/// A place where logs live; `open` twice in a row is a restart.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    async fn open(&self) -> Arc<dyn EventLog>;
    /// How long to wait for records that were already appended.
    fn patience(&self) -> Duration;
}

pub fn unique_topic(test: &str) -> String {
    format!("contract.{test}.{}", uuid::Uuid::new_v4().simple())
}

async fn new_topic(log: &dyn EventLog, test: &str, partitions: u32) -> String {
    let name = unique_topic(test);
    log.create_topics(&[TopicSpec::new(&name, partitions)])
        .await
        .expect("topic created");
    name
}

/// Reads until `expected` records came, then a little longer to catch extras.
pub async fn read_exactly(reader: &mut dyn LogReader, expected: usize, patience: Duration) -> Vec<Delivered> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut out = Vec::with_capacity(expected);
    while out.len() < expected && tokio::time::Instant::now() < deadline {
        out.extend(
            reader
                .poll(10_000, Duration::from_millis(500))
                .await
                .expect("poll"),
        );
    }
    out.extend(
        reader
            .poll(10_000, Duration::from_millis(300))
            .await
            .expect("poll"),
    );
    assert_eq!(
        out.len(),
        expected,
        "read {} records, expected {expected}",
        out.len()
    );
    out
}

/// Value → (partition, offset), asserting every value is seen once.
fn index_by_value(records: &[Delivered]) -> HashMap<Vec<u8>, (u32, u64)> {
    let mut seen = HashMap::new();
    for r in records {
        assert!(
            seen.insert(r.value.clone(), (r.partition, r.offset)).is_none(),
            "duplicate record {:?}",
            r.value
        );
    }
    seen
}

/// For each key, its values in the order they were read.
fn values_by_key(records: &[Delivered]) -> BTreeMap<Vec<u8>, Vec<Vec<u8>>> {
    let mut by_key: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
    for r in records {
        by_key.entry(r.key.clone()).or_default().push(r.value.clone());
    }
    by_key
}

fn value(key: usize, seq: usize) -> Vec<u8> {
    format!("k{key:05}:s{seq:06}").into_bytes()
}

fn key(key: usize) -> Vec<u8> {
    format!("post-{key}").into_bytes()
}

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

/// Polls until the members between them hold every partition of the topic.
async fn settle(
    members: &mut [Box<dyn imagegram_eventlog::GroupReader>],
    partitions: usize,
    patience: Duration,
) {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        for m in members.iter_mut() {
            let early = m.poll(100, Duration::from_millis(200)).await.expect("poll");
            assert!(early.is_empty(), "nothing was appended yet");
        }
        let held: Vec<(String, u32)> = members.iter().flat_map(|m| m.assignment()).collect();
        let distinct: HashSet<_> = held.iter().collect();
        if held.len() == partitions
            && distinct.len() == partitions
            && members.iter().all(|m| !m.assignment().is_empty())
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "group did not settle: {held:?}"
        );
    }
}

pub async fn group_members_share_partitions_and_resume_from_commits(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic(&*log, "group", 4).await;
    let group = format!("contract-group-{}", uuid::Uuid::new_v4().simple());
    let topics = vec![topic.clone()];
    let mut members = vec![
        log.join_group(&group, &topics).await.expect("join"),
        log.join_group(&group, &topics).await.expect("join"),
    ];
    settle(&mut members, 4, backend.patience()).await;
    let batch: Vec<Record> = (0..200)
        .map(|i| Record::new(key(i % 17), value(i % 17, i)))
        .collect();
    log.append(&topic, batch).await.expect("append");
    let deadline = tokio::time::Instant::now() + backend.patience();
    let mut seen: Vec<Vec<Delivered>> = vec![Vec::new(), Vec::new()];
    while seen.iter().map(Vec::len).sum::<usize>() < 200 && tokio::time::Instant::now() < deadline {
        for (m, got) in members.iter_mut().zip(seen.iter_mut()) {
            got.extend(m.poll(1000, Duration::from_millis(200)).await.expect("poll"));
        }
    }
    let all: Vec<Delivered> = seen.iter().flatten().cloned().collect();
    assert_eq!(all.len(), 200, "the members between them read every record");
    index_by_value(&all);
    assert!(seen.iter().all(|s| !s.is_empty()), "both members got a share");
    for (m, got) in members.iter_mut().zip(&seen) {
        let mut last: BTreeMap<(String, u32), Position> = BTreeMap::new();
        for r in got {
            last.insert((r.topic.to_string(), r.partition), r.next_position());
        }
        m.commit(&last.into_values().collect::<Vec<_>>())
            .await
            .expect("commit");
    }
    // One member leaves and a new one joins: between them they must start
    // exactly at the group's commits. (A group left empty and joined again
    // is not tested: Tansu 0.6 sometimes never assigns that member, which
    // real Kafka does; see the README.)
    let mut stayer = members.pop().expect("two members");
    drop(members);
    let more: Vec<Record> = (0..50)
        .map(|i| Record::new(key(i % 17), format!("after:{i}").into_bytes()))
        .collect();
    log.append(&topic, more).await.expect("append after commit");
    let mut newcomer = log.join_group(&group, &topics).await.expect("rejoin");
    // Between rebalances a group delivers at least once (what a member read
    // but had not committed goes to its successor again); consumers dedup.
    // What must hold: nothing committed comes back, nothing new is lost.
    let deadline = tokio::time::Instant::now() + backend.patience();
    let mut rest: HashSet<Vec<u8>> = HashSet::new();
    while (rest.len() < 50 || newcomer.assignment().is_empty()) && tokio::time::Instant::now() < deadline {
        for m in [&mut stayer, &mut newcomer] {
            for r in m.poll(1000, Duration::from_millis(200)).await.expect("poll") {
                assert!(
                    r.value.starts_with(b"after:"),
                    "a committed record came back: {:?}",
                    r.value
                );
                rest.insert(r.value);
            }
        }
    }
    assert_eq!(rest.len(), 50, "every record after the commits is read");
    assert!(!newcomer.assignment().is_empty(), "the newcomer got a share");
}

/// Expands to one test per contract clause for a backend. `$backend` is an
/// expression giving `Option<impl Backend>`; `None` skips with a message.
#[macro_export]
macro_rules! contract_suite {
    ($backend:expr) => {
        $crate::contract_suite!(@tests $backend;
            order_per_key, read_from_an_offset, restart_loses_and_duplicates_nothing,
            concurrent_producers, a_batch_of_100k, group_members_share_partitions_and_resume_from_commits);
    };
    (@tests $backend:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                match $backend {
                    Some(backend) => contract::$name(&backend).await,
                    None => eprintln!("skipped {}: its service is not configured", stringify!($name)),
                }
            }
        )*
    };
}
