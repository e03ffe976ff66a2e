//! Tailing reads from the embedded log.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redb::{ReadableDatabase, TableDefinition};
use tokio::time::Instant;

use super::layout::{decode_record, partition_table};
use super::store::Store;
use crate::{Delivered, LogError, LogReader, Position};

/// Reads a fixed set of partitions from given offsets on.
pub(crate) struct EmbeddedReader {
    store: Arc<Store>,
    cursors: Vec<Cursor>,
    /// Which partition a batch starts with, rotated so none starves.
    start: usize,
    committed: tokio::sync::watch::Receiver<u64>,
}

#[derive(Clone)]
pub(crate) struct Cursor {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: u32,
    pub(crate) next: u64,
}

impl EmbeddedReader {
    pub(crate) fn new(store: Arc<Store>, positions: Vec<Position>) -> Self {
        let committed = store.committed.clone();
        let cursors = positions
            .into_iter()
            .map(|p| Cursor {
                topic: Arc::from(p.topic),
                partition: p.partition,
                next: p.offset,
            })
            .collect();
        EmbeddedReader {
            store,
            cursors,
            start: 0,
            committed,
        }
    }

    pub(crate) fn cursors(&self) -> &[Cursor] {
        &self.cursors
    }

    /// One pass over the partitions, in a blocking thread.
    async fn read_available(&mut self, max: usize) -> Result<Vec<Delivered>, LogError> {
        if self.cursors.is_empty() {
            return Ok(Vec::new());
        }
        let store = Arc::clone(&self.store);
        let mut cursors = self.cursors.clone();
        let start = self.start % cursors.len();
        let (cursors, batch) = tokio::task::spawn_blocking(move || {
            let batch = read_batch(&store, &mut cursors, start, max);
            batch.map(|b| (cursors, b))
        })
        .await
        .map_err(LogError::storage)??;
        self.cursors = cursors;
        self.start = self.start.wrapping_add(1);
        Ok(batch)
    }
}

fn read_batch(
    store: &Store,
    cursors: &mut [Cursor],
    start: usize,
    max: usize,
) -> Result<Vec<Delivered>, LogError> {
    let txn = store.db.get()?.begin_read().map_err(LogError::storage)?;
    let mut out = Vec::new();
    let n = cursors.len();
    for i in 0..n {
        if out.len() >= max {
            break;
        }
        let cursor = &mut cursors[(start + i) % n];
        let name = partition_table(&cursor.topic, cursor.partition);
        let table = txn
            .open_table(TableDefinition::<u64, &[u8]>::new(&name))
            .map_err(LogError::storage)?;
        for entry in table.range(cursor.next..).map_err(LogError::storage)? {
            if out.len() >= max {
                break;
            }
            let (offset, bytes) = entry.map_err(LogError::storage)?;
            let (timestamp_ms, key, value) = decode_record(bytes.value())
                .ok_or_else(|| LogError::storage(format!("record {name}@{} is damaged", offset.value())))?;
            cursor.next = offset.value() + 1;
            out.push(Delivered {
                topic: Arc::clone(&cursor.topic),
                partition: cursor.partition,
                offset: offset.value(),
                timestamp_ms,
                key,
                value,
            });
        }
    }
    Ok(out)
}

#[async_trait]
impl LogReader for EmbeddedReader {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivered>, LogError> {
        let deadline = Instant::now() + wait;
        loop {
            // Mark the current commit as seen *before* reading, so a commit that
            // lands after the read wakes the wait below.
            self.committed.borrow_and_update();
            let batch = self.read_available(max.max(1)).await?;
            if !batch.is_empty() {
                return Ok(batch);
            }
            match tokio::time::timeout_at(deadline, self.committed.changed()).await {
                Err(_) => return Ok(Vec::new()),
                Ok(Err(_)) => return Err(LogError::Closed),
                Ok(Ok(())) => {}
            }
        }
    }
}
