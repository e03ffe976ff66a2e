//! Consumer groups: members share the partitions and resume from commits.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use imagegram_eventlog::{Delivered, Position, Record};

use super::*;

/// Where a member goes on after `records`: per partition, past the last one read.
fn next_positions(records: &[Delivered]) -> Vec<Position> {
    let mut last: BTreeMap<(String, u32), Position> = BTreeMap::new();
    for r in records {
        last.insert((r.topic.to_string(), r.partition), r.next_position());
    }
    last.into_values().collect()
}

/// Polls `member` until it has read `expected` records and holds every
/// partition, asserting each value starts with `prefix` (nothing committed
/// comes back); then a little longer, to catch extras.
async fn read_as_member(
    member: &mut dyn imagegram_eventlog::GroupReader,
    prefix: &str,
    expected: usize,
    partitions: usize,
    patience: Duration,
) -> Vec<Delivered> {
    let deadline = tokio::time::Instant::now() + patience;
    let mut got: Vec<Delivered> = Vec::new();
    let mut extra_polls = 3;
    while extra_polls > 0 {
        for r in member.poll(1000, Duration::from_millis(200)).await.expect("poll") {
            assert!(
                r.value.starts_with(prefix.as_bytes()),
                "{:?} came back, expected only {prefix}…",
                String::from_utf8_lossy(&r.value)
            );
            got.push(r);
        }
        if got.len() >= expected && member.assignment().len() == partitions {
            extra_polls -= 1;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the member read {} of {expected} records, holding {:?}",
            got.len(),
            member.assignment()
        );
    }
    assert_eq!(got.len(), expected, "each record once");
    index_by_value(&got);
    got
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
        m.commit(&next_positions(got)).await.expect("commit");
    }
    // One member leaves and a new one joins: between them they must start
    // exactly at the group's commits.
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

/// Every member leaves, so the group is empty, then members join again, one
/// at a time: each starts exactly at the commits its predecessor made.
pub async fn a_group_left_empty_resumes_from_its_commits(backend: &dyn Backend) {
    let log = backend.open().await;
    let topic = new_topic(&*log, "emptied", 4).await;
    let group = format!("contract-emptied-{}", uuid::Uuid::new_v4().simple());
    let topics = vec![topic.clone()];
    let patience = backend.patience();
    let batch = |label: &str, n: usize| -> Vec<Record> {
        (0..n)
            .map(|i| Record::new(key(i % 13), format!("{label}:{i}").into_bytes()))
            .collect()
    };

    log.append(&topic, batch("first", 100)).await.expect("append");
    let never = log.committed_offsets(&group, &topic).await.expect("committed");
    assert_eq!(
        never,
        vec![0; 4],
        "a group that never committed starts at the beginning"
    );
    let mut member = log.join_group(&group, &topics).await.expect("join");
    let got = read_as_member(&mut *member, "first:", 100, 4, patience).await;
    let done = next_positions(&got);
    member.commit(&done).await.expect("commit");
    drop(member);
    // What the group committed is read back without joining it, and the
    // group is then no records behind.
    let committed = log.committed_offsets(&group, &topic).await.expect("committed");
    let mut expected = vec![0; 4];
    for p in &done {
        expected[p.partition as usize] = p.offset;
    }
    assert_eq!(committed, expected);
    let lag = imagegram_eventlog::lag::of_group(&*log, &group, &topics)
        .await
        .expect("lag");
    assert_eq!(lag.iter().map(|l| l.lag()).sum::<u64>(), 0, "{lag:?}");

    for round in ["second", "third"] {
        // The group is empty now; what is appended meanwhile waits for it.
        log.append(&topic, batch(round, 40)).await.expect("append");
        let mut member = log.join_group(&group, &topics).await.expect("rejoin");
        let got = read_as_member(&mut *member, &format!("{round}:"), 40, 4, patience).await;
        member.commit(&next_positions(&got)).await.expect("commit");
        drop(member);
    }
}
