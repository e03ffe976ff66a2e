//! The writer thread of the embedded log: folds every request waiting at
//! that moment into one redb transaction and one fsync (group commit), and
//! answers each request only once that commit is durable.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redb::{ReadableTable, TableDefinition};
use std::sync::mpsc;

use tokio::sync::{oneshot, watch};

use super::handle::DbHandle;
use super::layout::{encode_record, now_ms, partition_table, Durability, GROUP_OFFSETS, TOPICS};
use super::side::{Ended, Rider, SideWrite};
use crate::{Appended, LogError, Position, Record, TopicSpec};

/// Requests folded into one transaction at most; bounds the time a commit takes.
const MAX_OPS_PER_COMMIT: usize = 4096;

pub(crate) type Reply = oneshot::Sender<Result<Vec<Appended>, LogError>>;

pub(crate) enum WriteOp {
    Append {
        topic: String,
        records: Vec<Record>,
        reply: Reply,
    },
    Commit {
        group: String,
        positions: Vec<Position>,
        reply: Reply,
    },
    CreateTopics {
        topics: Vec<TopicSpec>,
        reply: Reply,
    },
    /// Another component's tables, written in this commit (see `side.rs`).
    Side(SideWrite),
    /// Another component's writes, run at the start of every commit from
    /// now on (see `side.rs`).
    Ride(Rider),
}

/// How long a batch of side writes alone waits for an append to share its
/// commit. A keyed request's claim reaches the writer just before the
/// append of its work; committed alone, the append waited for the next
/// commit, and a lone client's keyed write took two fsyncs.
const SIDE_WRITES_WAIT: Duration = Duration::from_micros(2000);

/// Adds to `ops` whatever arrives within [`SIDE_WRITES_WAIT`], until
/// something other than a side write does.
fn wait_for_company(rx: &mpsc::Receiver<WriteOp>, ops: &mut Vec<WriteOp>) {
    let until = Instant::now() + SIDE_WRITES_WAIT;
    while ops.len() < MAX_OPS_PER_COMMIT {
        let left = until.saturating_duration_since(Instant::now());
        let Ok(op) = rx.recv_timeout(left) else {
            return; // none came in time, or the log is closing
        };
        let side = matches!(op, WriteOp::Side(_));
        ops.push(op);
        if !side {
            return;
        }
    }
}

/// The one thread that writes. Owns the next offset of every partition it touched.
pub(crate) struct Writer {
    pub(crate) db: Arc<DbHandle>,
    pub(crate) durability: Durability,
    pub(crate) next_offsets: HashMap<(String, u32), u64>,
    pub(crate) topics: Arc<RwLock<HashMap<String, u32>>>,
    pub(crate) riders: Vec<Rider>,
}

impl Writer {
    pub(crate) fn run(mut self, rx: mpsc::Receiver<WriteOp>, committed: watch::Sender<u64>) {
        let mut generation = 0u64;
        loop {
            // After a failed commit, the file is opened again: at once when
            // work arrives, and every so often while none does, so readers
            // come back too.
            let first = if self.db.writable() {
                rx.recv().ok()
            } else {
                match rx.recv_timeout(REOPEN_EVERY) {
                    Ok(op) => Some(op),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        self.reopen();
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => None,
                }
            };
            let Some(first) = first else { break };
            let mut ops = vec![first];
            while ops.len() < MAX_OPS_PER_COMMIT {
                match rx.try_recv() {
                    Ok(op) => ops.push(op),
                    Err(_) => break,
                }
            }
            let (riders, mut ops): (Vec<WriteOp>, Vec<WriteOp>) =
                ops.into_iter().partition(|op| matches!(op, WriteOp::Ride(_)));
            self.riders.extend(riders.into_iter().filter_map(|op| match op {
                WriteOp::Ride(rider) => Some(rider),
                _ => None,
            }));
            if ops.is_empty() {
                continue;
            }
            if ops.iter().all(|op| matches!(op, WriteOp::Side(_))) {
                wait_for_company(&rx, &mut ops);
            }
            if !self.db.writable() && !self.reopen() {
                refuse(
                    ops,
                    "the embedded log cannot write since a commit failed; it is reopened when it can be",
                );
                continue;
            }
            self.apply(ops);
            generation += 1;
            committed.send_replace(generation);
        }
    }

    /// Opens the file again after a failed commit; whether it could be.
    /// Offsets cached from before are dropped: the file is at its last
    /// commit, which is all they came from.
    fn reopen(&mut self) -> bool {
        match self.db.reopen() {
            Ok(()) => {
                self.next_offsets.clear();
                tracing::warn!("embedded log reopened after a failed commit; writes go on");
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "embedded log cannot be reopened yet");
                false
            }
        }
    }

    /// Applies every op in one transaction; replies only once it is durable.
    fn apply(&mut self, mut ops: Vec<WriteOp>) {
        let mut staged: HashMap<(String, u32), u64> = HashMap::new();
        let mut new_topics: Vec<TopicSpec> = Vec::new();
        let mut told: Vec<Ended> = Vec::new();
        let outcome = (|| -> Result<Vec<Result<Vec<Appended>, LogError>>, LogError> {
            let db = self.db.get()?;
            let mut txn = db.begin_write().map_err(LogError::storage)?;
            if self.durability == Durability::Process {
                txn.set_durability(redb::Durability::None)
                    .map_err(LogError::storage)?;
            }
            for rider in &mut self.riders {
                rider(&txn, &mut told).map_err(LogError::storage)?;
            }
            let mut results = Vec::with_capacity(ops.len());
            for op in &mut ops {
                results.push(match op {
                    WriteOp::Side(side) => {
                        if let Some(apply) = side.apply.take() {
                            apply(&txn).map_err(LogError::storage)?;
                        }
                        Ok(Vec::new())
                    }
                    WriteOp::Append { topic, records, .. } => {
                        self.append(&txn, topic, records, &mut staged)?
                    }
                    WriteOp::Commit { group, positions, .. } => commit_offsets(&txn, group, positions)?,
                    WriteOp::CreateTopics { topics, .. } => self.create(&txn, topics, &mut new_topics)?,
                    WriteOp::Ride(_) => Ok(Vec::new()), // taken out before the commit
                });
            }
            txn.commit().map_err(LogError::storage)?;
            Ok(results)
        })();
        match outcome {
            Ok(results) => {
                self.next_offsets.extend(staged);
                if let Ok(mut topics) = self.topics.write() {
                    topics.extend(new_topics.into_iter().map(|t| (t.name, t.partitions)));
                }
                for ended in told {
                    ended(Ok(()));
                }
                for (op, result) in ops.into_iter().zip(results) {
                    answer(op, result);
                }
            }
            Err(e) => {
                // A full disk is the usual cause: an operator's matter, and
                // it says so once per failed commit, not per request.
                tracing::error!(error = %e, "embedded log commit failed; every request in it fails, and the file is reopened before the next");
                self.db.broken();
                for ended in told {
                    ended(Err(LogError::storage(e.to_string())));
                }
                refuse(ops, &e.to_string());
            }
        }
    }

    /// `Ok(Err(..))` is this request's own failure; `Err(..)` aborts the commit.
    fn append(
        &mut self,
        txn: &redb::WriteTransaction,
        topic: &str,
        records: &[Record],
        staged: &mut HashMap<(String, u32), u64>,
    ) -> Result<Result<Vec<Appended>, LogError>, LogError> {
        let Some(partitions) = self
            .topics
            .read()
            .map_err(|_| LogError::storage("topic map poisoned"))?
            .get(topic)
            .copied()
        else {
            return Ok(Err(LogError::UnknownTopic(topic.to_owned())));
        };
        let now = now_ms();
        let mut tables = HashMap::new();
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let partition = crate::partition_for(&record.key, partitions);
            let key = (topic.to_owned(), partition);
            let table = match tables.entry(partition) {
                Entry::Occupied(open) => open.into_mut(),
                Entry::Vacant(slot) => {
                    let name = partition_table(topic, partition);
                    slot.insert(
                        txn.open_table(TableDefinition::<u64, &[u8]>::new(&name))
                            .map_err(LogError::storage)?,
                    )
                }
            };
            let next = match staged.get(&key).or_else(|| self.next_offsets.get(&key)) {
                Some(&n) => n,
                None => table
                    .last()
                    .map_err(LogError::storage)?
                    .map(|(k, _)| k.value() + 1)
                    .unwrap_or(0),
            };
            table
                .insert(next, encode_record(now, record).as_slice())
                .map_err(LogError::storage)?;
            staged.insert(key, next + 1);
            out.push(Appended {
                partition,
                offset: next,
            });
        }
        Ok(Ok(out))
    }

    fn create(
        &self,
        txn: &redb::WriteTransaction,
        wanted: &[TopicSpec],
        new_topics: &mut Vec<TopicSpec>,
    ) -> Result<Result<Vec<Appended>, LogError>, LogError> {
        let mut table = txn.open_table(TOPICS).map_err(LogError::storage)?;
        for spec in wanted {
            let existing = table
                .get(spec.name.as_str())
                .map_err(LogError::storage)?
                .map(|v| v.value());
            match existing {
                Some(existing) if existing != spec.partitions => {
                    return Ok(Err(LogError::PartitionMismatch {
                        topic: spec.name.clone(),
                        existing,
                        wanted: spec.partitions,
                    }))
                }
                Some(_) => {}
                None => {
                    table
                        .insert(spec.name.as_str(), spec.partitions)
                        .map_err(LogError::storage)?;
                    for p in 0..spec.partitions {
                        let name = partition_table(&spec.name, p);
                        txn.open_table(TableDefinition::<u64, &[u8]>::new(&name))
                            .map_err(LogError::storage)?;
                    }
                    new_topics.push(spec.clone());
                }
            }
        }
        Ok(Ok(Vec::new()))
    }
}

fn commit_offsets(
    txn: &redb::WriteTransaction,
    group: &str,
    positions: &[Position],
) -> Result<Result<Vec<Appended>, LogError>, LogError> {
    let mut table = txn.open_table(GROUP_OFFSETS).map_err(LogError::storage)?;
    for p in positions {
        table
            .insert((group, p.topic.as_str(), p.partition), p.offset)
            .map_err(LogError::storage)?;
    }
    Ok(Ok(Vec::new()))
}

/// Requests a store refused because it could not write (a full disk):
/// the embedded log counts its own (`store="event_log"`).
pub const STORAGE_REFUSALS: &str = "imagegram_storage_refusals_total";

/// How often a log that cannot write tries to open its file again.
const REOPEN_EVERY: Duration = Duration::from_millis(500);

/// Answers every op with a storage error (a 503 to clients), counted.
fn refuse(ops: Vec<WriteOp>, why: &str) {
    let requests = ops.iter().filter(|op| !matches!(op, WriteOp::Ride(_))).count();
    metrics::counter!(STORAGE_REFUSALS, "store" => "event_log").increment(requests as u64);
    for op in ops {
        answer(op, Err(LogError::storage(why.to_owned())));
    }
}

/// Tells the op's requester how its commit ended.
fn answer(op: WriteOp, result: Result<Vec<Appended>, LogError>) {
    match op {
        WriteOp::Append { reply, .. }
        | WriteOp::Commit { reply, .. }
        | WriteOp::CreateTopics { reply, .. } => drop(reply.send(result)),
        WriteOp::Side(side) => (side.ended)(result.map(drop)),
        WriteOp::Ride(_) => {}
    }
}
