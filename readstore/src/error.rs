use thiserror::Error;

/// Everything the read store can fail with.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The embedded mode's idempotency keys' tables (redb).
    #[error("idempotency keys' tables: {0}")]
    KeyFile(#[source] std::sync::Arc<redb::Error>),
    /// The embedded log, whose file holds the embedded mode's keys.
    #[error("idempotency keys in the embedded log: {0}")]
    Log(#[source] imagegram_eventlog::LogError),
    /// The keys' writer is gone (the store is closing).
    #[error("the idempotency keys writer has stopped")]
    WriterStopped,
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use mysql://… or sqlite://…")]
    UnsupportedUrl(String),
    /// Another projector moved these positions first; re-read from the store.
    #[error("projection {0} was advanced by someone else")]
    Conflict(String),
    #[error("stored row is damaged: {0}")]
    Corrupt(String),
    /// Another process held the migration lock longer than this many seconds.
    #[error("waited {0} s for another process's migrations")]
    MigrationLock(u64),
}

impl StoreError {
    /// Whether trying the same call again later can succeed: a database
    /// that is away, busy or deadlocked, or positions another projector
    /// moved (re-read and go on), not a statement it refuses or a row it
    /// cannot read.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(e) => database_may_recover(e),
            StoreError::Conflict(_) | StoreError::MigrationLock(_) => true,
            // The disk may come back; a bad file will not.
            StoreError::KeyFile(e) => matches!(**e, redb::Error::Io(_)),
            StoreError::Log(e) => e.is_transient(),
            StoreError::WriterStopped => false,
            StoreError::Migrate(_) | StoreError::UnsupportedUrl(_) | StoreError::Corrupt(_) => false,
        }
    }
}

fn database_may_recover(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed | sqlx::Error::Tls(_) => {
            true
        }
        sqlx::Error::Database(db) => match db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
            // MySQL/MariaDB: lock wait timeout, deadlock, too many
            // connections, server shutting down, read-only while failing
            // over; a full disk or table (1021, 1114).
            Some(mysql) => matches!(
                mysql.number(),
                1205 | 1213 | 1040 | 1053 | 1290 | 1836 | 1021 | 1114
            ),
            // SQLite, by primary code (an extended code's low byte): busy
            // or locked (another writer holds the file), an I/O error, a
            // full disk. SQLite rolls the transaction back and takes the
            // next one once there is room.
            None => db
                .code()
                .and_then(|code| code.parse::<i64>().ok())
                .is_some_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13)),
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_transient_and_refusals_are_not() {
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_transient());
        assert!(StoreError::Database(sqlx::Error::Io(std::io::Error::other("reset"))).is_transient());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_transient());
        assert!(!StoreError::Corrupt("bad row".into()).is_transient());
        assert!(StoreError::Conflict("read-model".into()).is_transient());
    }

    /// A full disk under SQLite is an outage: the projector waits it out
    /// rather than dead-letter the record it could not write.
    #[tokio::test]
    async fn a_full_sqlite_disk_is_transient() {
        use sqlx::ConnectOptions;
        let mut db = sqlx::sqlite::SqliteConnectOptions::new()
            .in_memory(true)
            .connect()
            .await
            .expect("an in-memory database");
        sqlx::query("PRAGMA max_page_count = 2")
            .execute(&mut db)
            .await
            .expect("pragma");
        sqlx::query("CREATE TABLE t (v BLOB)")
            .execute(&mut db)
            .await
            .expect("table");
        let full = sqlx::query("INSERT INTO t VALUES (zeroblob(100000))")
            .execute(&mut db)
            .await
            .expect_err("the database is full");
        let full = StoreError::Database(full);
        assert!(full.is_transient(), "{full}");
    }
}
