//! Tables of another component kept in the log's file and written in the
//! log's own group commits: the embedded mode's idempotency keys. A keyed
//! request's claim then shares the commit (and the fsync) of the event
//! its work appends, instead of a commit of its own on another thread.
//! A redb commit costs about 190 µs of CPU whatever it holds, and the
//! keys' own commits were a tenth of a keyed comment write's CPU.
//!
//! Two ways in: a [`SideWrite`] is a message of its own, applied in the
//! first commit after it; a [`Rider`] is asked at the start of every
//! commit for whatever its component queued, so writes that an append
//! soon follows cost no message and no extra wake-up of the writer.

use std::sync::Arc;

use redb::{ReadTransaction, ReadableDatabase, WriteTransaction};

use super::store::Store;
use crate::LogError;

/// What a side write does inside the log's transaction. An error aborts
/// the whole commit: the appends sharing it fail too.
pub type Apply = Box<dyn FnOnce(&WriteTransaction) -> Result<(), redb::Error> + Send>;
/// Told how the commit holding a side write ended, once it has.
pub type Ended = Box<dyn FnOnce(Result<(), LogError>) + Send>;
/// Called at the start of every commit, in the writer's thread: writes
/// whatever its component queued since the last one, without a message of
/// its own, and pushes to the list it is given whatever must be told how
/// the commit ended (before writing, so a failed write is told too). An
/// error aborts the commit, as a side write's does.
pub type Rider = Box<dyn FnMut(&WriteTransaction, &mut Vec<Ended>) -> Result<(), redb::Error> + Send>;

/// One write to side tables, joined to the next group commit.
pub struct SideWrite {
    pub(crate) apply: Option<Apply>,
    pub(crate) ended: Ended,
}

impl SideWrite {
    pub fn new(apply: Apply, ended: Ended) -> Self {
        SideWrite {
            apply: Some(apply),
            ended,
        }
    }
}

/// A handle on the log's file for side tables. Writes are applied in the
/// order they were handed over, each in the first commit after it.
#[derive(Clone)]
pub struct SideTables {
    pub(crate) store: Arc<Store>,
}

impl SideTables {
    /// A snapshot of the file as of the last commit.
    pub fn read(&self) -> Result<ReadTransaction, LogError> {
        self.store.db.get()?.begin_read().map_err(LogError::storage)
    }

    /// Hands `write` to the writer. When the log is closed it is refused
    /// and dropped, and its `ended` is never told.
    pub fn write(&self, write: SideWrite) -> Result<(), LogError> {
        self.store.side_write(write)
    }

    /// Has `rider` run at the start of every commit from the next one on.
    /// A component whose writes mostly precede an append of its own (a
    /// keyed request's claim, then its event) queues them for its rider
    /// instead of sending a write each: the append's commit carries them,
    /// and the writer is not woken once more for each.
    pub fn ride(&self, rider: Rider) -> Result<(), LogError> {
        self.store.ride(rider)
    }

    /// Asks for a commit soon, for writes queued for a rider when no
    /// append may follow to carry them.
    pub fn kick(&self) -> Result<(), LogError> {
        self.write(SideWrite::new(Box::new(|_| Ok(())), Box::new(drop)))
    }
}
