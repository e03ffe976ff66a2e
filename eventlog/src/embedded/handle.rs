//! The open redb file, and opening it again after a failed write.
//!
//! After one failed write (a full disk, an I/O error) redb refuses every
//! later transaction with "Previous I/O error occurred. Please close and
//! re-open the database" until the file is opened again. The writer does
//! that ([`DbHandle::reopen`]) once a commit has failed: it takes the
//! database out of the handle (readers meanwhile get a storage error, a
//! 503 to clients, as the failed write did), waits for the readers still
//! holding it to let go, and opens the file again, which recovers it to
//! its last commit. Until a reopen succeeds the handle is not writable,
//! which `/readyz` reports.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redb::{Database, WriteTransaction};

use super::file::open_whole;
use super::layout::{GROUP_OFFSETS, TOPICS};
use crate::LogError;

/// How long a reopen waits for readers to drop the old database.
const READERS_LET_GO: Duration = Duration::from_secs(5);

/// The log's own tables, made in a new file and checked in an old one.
pub(crate) fn log_tables(txn: &WriteTransaction) -> Result<(), redb::TableError> {
    txn.open_table(TOPICS)?;
    txn.open_table(GROUP_OFFSETS)?;
    Ok(())
}

pub(crate) struct DbHandle {
    path: PathBuf,
    current: RwLock<Option<Arc<Database>>>,
    writable: AtomicBool,
}

impl DbHandle {
    /// Opens (or creates) the file at `path`.
    pub(crate) fn open(path: &Path) -> Result<DbHandle, LogError> {
        let db = open_whole(path, log_tables).map_err(|e| match e {
            redb::Error::DatabaseAlreadyOpen => LogError::InUse(path.display().to_string()),
            other => LogError::storage(other),
        })?;
        Ok(DbHandle {
            path: path.to_owned(),
            current: RwLock::new(Some(Arc::new(db))),
            writable: AtomicBool::new(true),
        })
    }

    /// The database, unless it is being opened again.
    pub(crate) fn get(&self) -> Result<Arc<Database>, LogError> {
        self.current
            .read()
            .map_err(|_| LogError::storage("the embedded log's handle is poisoned"))?
            .clone()
            .ok_or_else(|| LogError::storage("the embedded log is being reopened after a failed write"))
    }

    /// Whether the last commit went through (or a reopen since one failed).
    pub(crate) fn writable(&self) -> bool {
        self.writable.load(Ordering::Relaxed)
    }

    /// A commit failed: writes are refused until [`Self::reopen`] succeeds.
    pub(crate) fn broken(&self) {
        self.writable.store(false, Ordering::Relaxed);
    }

    /// Closes the file and opens it again. Fails (and can be tried again)
    /// while readers hold the old database past [`READERS_LET_GO`], or
    /// while the file cannot be opened (redb writes to open it).
    pub(crate) fn reopen(&self) -> Result<(), LogError> {
        let taken = self
            .current
            .write()
            .map_err(|_| LogError::storage("the embedded log's handle is poisoned"))?
            .take();
        if let Some(mut old) = taken {
            let deadline = Instant::now() + READERS_LET_GO;
            loop {
                match Arc::try_unwrap(old) {
                    Ok(db) => {
                        drop(db);
                        break;
                    }
                    Err(shared) if Instant::now() < deadline => {
                        old = shared;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(shared) => {
                        self.put(shared)?;
                        return Err(LogError::storage(
                            "readers held the embedded log past the reopen's wait",
                        ));
                    }
                }
            }
        }
        // A reader's snapshot may keep the file for a moment after the
        // database itself is gone: redb then says it is open already.
        let deadline = Instant::now() + READERS_LET_GO;
        let db = loop {
            match open_whole(&self.path, log_tables) {
                Ok(db) => break db,
                Err(redb::Error::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(LogError::storage(e)),
            }
        };
        self.put(Arc::new(db))?;
        self.writable.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn put(&self, db: Arc<Database>) -> Result<(), LogError> {
        *self
            .current
            .write()
            .map_err(|_| LogError::storage("the embedded log's handle is poisoned"))? = Some(db);
        Ok(())
    }
}
