//! Storage of the embedded log: one redb database and its writer thread.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use std::sync::mpsc;

use tokio::sync::{oneshot, watch};

use super::handle::DbHandle;
use super::layout::{partition_table, Durability, GROUP_OFFSETS, TOPICS};
use super::writer::{Reply, WriteOp, Writer};

use crate::{Appended, LogError, Position, Record, TopicSpec};

pub(crate) struct Store {
    pub(crate) db: Arc<DbHandle>,
    writer: mpsc::Sender<WriteOp>,
    /// Joined on drop, so the file is closed when the last handle goes.
    writer_thread: Option<std::thread::JoinHandle<()>>,
    /// Bumped after every commit; readers wait on it.
    pub(crate) committed: watch::Receiver<u64>,
    topics: Arc<RwLock<HashMap<String, u32>>>,
}

impl Store {
    pub(crate) fn open(dir: &Path, durability: Durability) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir).map_err(LogError::storage)?;
        let db = Arc::new(DbHandle::open(&dir.join("log.redb"))?);
        let mut topics = HashMap::new();
        {
            let read = db.get()?.begin_read().map_err(LogError::storage)?;
            let table = read.open_table(TOPICS).map_err(LogError::storage)?;
            for entry in table.iter().map_err(LogError::storage)? {
                let (name, partitions) = entry.map_err(LogError::storage)?;
                topics.insert(name.value().to_owned(), partitions.value());
            }
        }
        let topics = Arc::new(RwLock::new(topics));
        let (tx, rx) = mpsc::channel();
        let (committed_tx, committed) = watch::channel(0);
        let writer = Writer {
            db: Arc::clone(&db),
            durability,
            next_offsets: HashMap::new(),
            topics: Arc::clone(&topics),
            riders: Vec::new(),
        };
        let writer_thread = std::thread::Builder::new()
            .name("eventlog-writer".into())
            .spawn(move || writer.run(rx, committed_tx))
            .map_err(LogError::storage)?;
        Ok(Store {
            db,
            writer: tx,
            writer_thread: Some(writer_thread),
            committed,
            topics,
        })
    }

    async fn submit(&self, make: impl FnOnce(Reply) -> WriteOp) -> Result<Vec<Appended>, LogError> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(make(reply)).map_err(|_| LogError::Closed)?;
        answer.await.map_err(|_| LogError::Closed)?
    }

    pub(crate) async fn append(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Appended>, LogError> {
        self.partitions(topic)?;
        self.submit(|reply| WriteOp::Append {
            topic: topic.to_owned(),
            records,
            reply,
        })
        .await
    }

    /// Queues a side write (see `side.rs`); refused once the log is closed.
    pub(crate) fn side_write(&self, write: super::side::SideWrite) -> Result<(), LogError> {
        self.writer
            .send(WriteOp::Side(write))
            .map_err(|_| LogError::Closed)
    }

    /// Registers a rider (see `side.rs`); refused once the log is closed.
    pub(crate) fn ride(&self, rider: super::side::Rider) -> Result<(), LogError> {
        self.writer
            .send(WriteOp::Ride(rider))
            .map_err(|_| LogError::Closed)
    }

    pub(crate) async fn commit_group(&self, group: &str, positions: Vec<Position>) -> Result<(), LogError> {
        self.submit(|reply| WriteOp::Commit {
            group: group.to_owned(),
            positions,
            reply,
        })
        .await
        .map(drop)
    }

    pub(crate) async fn create_topics(&self, topics: Vec<TopicSpec>) -> Result<(), LogError> {
        self.submit(|reply| WriteOp::CreateTopics { topics, reply })
            .await
            .map(drop)
    }

    pub(crate) fn partitions(&self, topic: &str) -> Result<u32, LogError> {
        let topics = self
            .topics
            .read()
            .map_err(|_| LogError::storage("topic map poisoned"))?;
        topics
            .get(topic)
            .copied()
            .ok_or_else(|| LogError::UnknownTopic(topic.to_owned()))
    }

    pub(crate) fn check_partition(&self, topic: &str, partition: u32) -> Result<(), LogError> {
        let partitions = self.partitions(topic)?;
        if partition >= partitions {
            return Err(LogError::UnknownPartition {
                topic: topic.to_owned(),
                partition,
                partitions,
            });
        }
        Ok(())
    }

    pub(crate) fn end_offsets(&self, topic: &str) -> Result<Vec<u64>, LogError> {
        let partitions = self.partitions(topic)?;
        let txn = self.db.get()?.begin_read().map_err(LogError::storage)?;
        (0..partitions)
            .map(|p| {
                let name = partition_table(topic, p);
                let table = txn
                    .open_table(TableDefinition::<u64, &[u8]>::new(&name))
                    .map_err(LogError::storage)?;
                let last = table.last().map_err(LogError::storage)?;
                Ok(last.map(|(k, _)| k.value() + 1).unwrap_or(0))
            })
            .collect()
    }

    pub(crate) fn committed_offset(&self, group: &str, topic: &str, partition: u32) -> Result<u64, LogError> {
        let txn = self.db.get()?.begin_read().map_err(LogError::storage)?;
        let table = txn.open_table(GROUP_OFFSETS).map_err(LogError::storage)?;
        let got = table.get((group, topic, partition)).map_err(LogError::storage)?;
        Ok(got.map(|v| v.value()).unwrap_or(0))
    }

    pub(crate) fn check(&self) -> Result<(), LogError> {
        if self.writer_thread.as_ref().is_none_or(|t| t.is_finished()) {
            return Err(LogError::Closed);
        }
        if !self.db.writable() {
            return Err(LogError::storage("cannot write: the last commit failed"));
        }
        self.db.get()?.begin_read().map(drop).map_err(LogError::storage)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Closing the channel ends the writer loop once queued work is done.
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.writer, closed));
        if let Some(thread) = self.writer_thread.take() {
            let _ = thread.join();
        }
    }
}
