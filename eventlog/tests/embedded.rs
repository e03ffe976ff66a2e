//! The contract suite against the embedded log, plus its crash-safety test.

mod contract;

use std::sync::Arc;
use std::time::Duration;

use imagegram_eventlog::embedded::{Durability, EmbeddedLog};
use imagegram_eventlog::EventLog;

struct Embedded {
    dir: tempfile::TempDir,
}

#[async_trait::async_trait]
impl contract::Backend for Embedded {
    async fn open(&self) -> Arc<dyn EventLog> {
        Arc::new(EmbeddedLog::open(self.dir.path(), Durability::Fsync).expect("open embedded log"))
    }

    fn patience(&self) -> Duration {
        Duration::from_secs(30)
    }
}

fn embedded() -> Option<Embedded> {
    Some(Embedded {
        dir: tempfile::tempdir().expect("temp dir"),
    })
}

contract_suite!(embedded());

/// Set in the child process of the crash test: where it writes.
const CHILD_DIR: &str = "IMAGEGRAM_CRASH_TEST_CHILD_DIR";
const CRASH_TOPIC: &str = "crash";

/// A writer that prints every acknowledged append, then gets `kill -9`ed.
/// Run as a child of `acknowledged_appends_survive_kill_9`.
async fn crash_child(dir: &str) {
    let log =
        Arc::new(EmbeddedLog::open(std::path::Path::new(dir), Durability::Fsync).expect("child opens log"));
    log.create_topics(&[imagegram_eventlog::TopicSpec::new(CRASH_TOPIC, 4)])
        .await
        .expect("topic");
    let mut writers = Vec::new();
    for w in 0..4u32 {
        let log = Arc::clone(&log);
        writers.push(tokio::spawn(async move {
            for seq in 0u64.. {
                let value = format!("w{w}-{seq}");
                let record = imagegram_eventlog::Record::new(format!("key-{w}-{}", seq % 5), value.clone());
                if let Ok(appended) = log.append(CRASH_TOPIC, vec![record]).await {
                    let a = appended[0];
                    println!("ack {} {} {value}", a.partition, a.offset);
                }
            }
        }));
    }
    for w in writers {
        let _ = w.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_kill_9() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return crash_child(&dir).await;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "acknowledged_appends_survive_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child writer");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut acked = Vec::new();
    let started = std::time::Instant::now();
    while acked.len() < 3000 && started.elapsed() < Duration::from_secs(60) {
        match lines.next() {
            Some(Ok(line)) if line.starts_with("ack ") => acked.push(line),
            Some(_) => {}
            None => break,
        }
    }
    // The writer appends until it is killed: still running here means the
    // kill lands among its appends, not after them.
    assert!(
        child.try_wait().expect("the writer's status").is_none(),
        "the writer ended before the kill"
    );
    child.kill().expect("kill -9 the writer");
    // Acks printed before the kill are still in the pipe: they count too.
    acked.extend(lines.map_while(Result::ok).filter(|l| l.starts_with("ack ")));
    let _ = child.wait();
    assert!(
        acked.len() >= 100,
        "the child acknowledged only {} appends",
        acked.len()
    );

    let log = EmbeddedLog::open(dir.path(), Durability::Fsync).expect("reopen after kill -9");
    let ends = log.end_offsets(CRASH_TOPIC).await.expect("end offsets");
    let mut reader = log
        .read_from(imagegram_eventlog::Position::beginning_of(CRASH_TOPIC, 4))
        .await
        .expect("reader");
    let total: u64 = ends.iter().sum();
    let stored = contract::read_exactly(&mut *reader, total as usize, Duration::from_secs(30)).await;
    let at: std::collections::HashMap<(u32, u64), Vec<u8>> = stored
        .into_iter()
        .map(|r| ((r.partition, r.offset), r.value))
        .collect();
    for line in &acked {
        let mut parts = line.split(' ').skip(1);
        let partition: u32 = parts.next().and_then(|p| p.parse().ok()).expect("partition");
        let offset: u64 = parts.next().and_then(|p| p.parse().ok()).expect("offset");
        let value = parts.next().expect("value");
        assert_eq!(
            at.get(&(partition, offset)).map(Vec::as_slice),
            Some(value.as_bytes()),
            "acked {line} was lost"
        );
    }
    eprintln!(
        "{} acknowledged appends, {} stored, all acknowledged ones present after kill -9",
        acked.len(),
        total
    );
}

/// A new log file appears whole or not at all: what a process killed while
/// creating it leaves (a half-written file beside the log) does not stop
/// the next start, which makes the log afresh.
#[tokio::test]
async fn a_creation_cut_short_leaves_nothing_in_the_way() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("log.redb.new"), b"redb\0half a header").expect("write");
    let log = EmbeddedLog::open(dir.path(), Durability::Fsync).expect("opens");
    log.create_topics(&[imagegram_eventlog::TopicSpec::new("t", 1)])
        .await
        .expect("usable");
    drop(log);
    assert!(!dir.path().join("log.redb.new").exists());
    EmbeddedLog::open(dir.path(), Durability::Fsync).expect("opens again");
}

/// Tables of another component ride the log's commits: a side write is
/// applied with the appends around it, told once its commit ended, and
/// readable afterwards; one that fails takes its commit's appends with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn side_writes_share_the_logs_commits() {
    use imagegram_eventlog::embedded::SideWrite;
    use imagegram_eventlog::{Record, TopicSpec};

    const SIDE: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("side");
    let dir = tempfile::tempdir().expect("temp dir");
    let log = EmbeddedLog::open(dir.path(), Durability::Fsync).expect("opens");
    log.create_topics(&[TopicSpec::new("t", 1)]).await.expect("topic");
    let tables = log.side_tables().expect("the embedded log has side tables");

    let side = |value: u64, fail: bool| {
        let (told, ended) = tokio::sync::oneshot::channel();
        let write = SideWrite::new(
            Box::new(move |txn| {
                txn.open_table(SIDE)?.insert("k", value)?;
                if fail {
                    return Err(redb::Error::Corrupted("refused on purpose".into()));
                }
                Ok(())
            }),
            Box::new(move |result| {
                let _ = told.send(result.is_ok());
            }),
        );
        (write, ended)
    };
    let stored = || {
        let read = tables.read().expect("read");
        let table = read.open_table(SIDE).expect("table");
        table.get("k").expect("get").map(|v| v.value())
    };
    let (write, ended) = side(7, false);
    tables.write(write).expect("queued");
    let appended = log.append("t", vec![Record::new("a", "1")]).await;
    assert!(appended.is_ok());
    assert!(ended.await.expect("told"), "stored");
    assert_eq!(stored(), Some(7));

    // Alone, a side write still commits (after waiting briefly for company).
    let (write, ended) = side(8, false);
    tables.write(write).expect("queued");
    assert!(ended.await.expect("told"));

    // A failing side write with an append beside it: until the append
    // joins its commit (it usually does, the side write waiting for
    // company), and then the append is refused and not stored. An append
    // that went in a commit of its own is stored, and the next try made.
    let mut joined = false;
    for attempt in 0..100 {
        let end_before = log.end_offsets("t").await.expect("ends")[0];
        let (write, ended) = side(9, true);
        tables.write(write).expect("queued");
        let appended = log.append("t", vec![Record::new("b", "2")]).await;
        assert!(!ended.await.expect("told"), "a failing side write is told so");
        let end_after = log.end_offsets("t").await.expect("ends")[0];
        assert_eq!(stored(), Some(8), "nothing of a failed commit is stored");
        if appended.is_err() {
            assert_eq!(
                end_after, end_before,
                "attempt {attempt}: the refused append is not stored"
            );
            joined = true;
            break;
        }
        assert_eq!(
            end_after,
            end_before + 1,
            "attempt {attempt}: an append on its own is stored"
        );
    }
    assert!(
        joined,
        "in 100 tries no append joined a failing side write's commit"
    );
}

/// A rider runs at the start of every commit: what its component queued
/// is stored with the next append, without a write of its own, and is
/// told how that commit ended; a kick makes a commit when no append comes;
/// a rider that fails takes its commit's appends with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn riders_store_their_queue_in_the_next_commit() {
    use std::sync::{Arc, Mutex};

    use imagegram_eventlog::embedded::Ended;
    use imagegram_eventlog::{Record, TopicSpec};

    const RIDDEN: redb::TableDefinition<u64, u64> = redb::TableDefinition::new("ridden");
    type Told = tokio::sync::oneshot::Sender<bool>;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = EmbeddedLog::open(dir.path(), Durability::Fsync).expect("opens");
    log.create_topics(&[TopicSpec::new("t", 1)]).await.expect("topic");
    let tables = log.side_tables().expect("the embedded log has side tables");

    // The component's queue: values to store, and who waits on them.
    let queue: Arc<Mutex<Vec<(u64, Told)>>> = Arc::default();
    let rider = {
        let queue = Arc::clone(&queue);
        Box::new(move |txn: &redb::WriteTransaction, told: &mut Vec<Ended>| {
            let taken = std::mem::take(&mut *queue.lock().expect("queue"));
            let mut table = txn.open_table(RIDDEN)?;
            let mut waiting = Vec::new();
            let mut refused = false;
            for (value, waiter) in taken {
                table.insert(value, value)?;
                refused |= value == 0;
                waiting.push(waiter);
            }
            told.push(Box::new(move |ended: Result<(), _>| {
                for waiter in waiting {
                    let _ = waiter.send(ended.is_ok());
                }
            }));
            if refused {
                return Err(redb::Error::Corrupted("zero refused on purpose".into()));
            }
            Ok(())
        })
    };
    tables.ride(rider).expect("rides");
    let enqueue = |value: u64| {
        let (waiter, told) = tokio::sync::oneshot::channel();
        queue.lock().expect("queue").push((value, waiter));
        told
    };
    let stored = |value: u64| {
        let read = tables.read().expect("read");
        let table = read.open_table(RIDDEN).expect("table");
        table.get(value).expect("get").map(|v| v.value())
    };

    let told = enqueue(1);
    log.append("t", vec![Record::new("a", "1")])
        .await
        .expect("appended");
    assert!(told.await.expect("told"), "stored with the append");
    assert_eq!(stored(1), Some(1));

    let told = enqueue(2);
    tables.kick().expect("kicked");
    assert!(told.await.expect("told"), "a kick commits without an append");
    assert_eq!(stored(2), Some(2));

    let told = enqueue(0);
    let refused = log.append("t", vec![Record::new("b", "2")]).await;
    assert!(refused.is_err(), "the append shares the rider's failed commit");
    assert!(!told.await.expect("told"), "and the rider is told it failed");
    assert_eq!(stored(0), None);
    assert_eq!(log.end_offsets("t").await.expect("ends")[0], 1);
}
