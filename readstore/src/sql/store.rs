//! The SQL store itself: one `sqlx::Any` pool over MySQL/MariaDB or
//! SQLite, its migrations, the names of its read tables, and reading TEXT
//! columns alike on both. The bottom of the SQL adapter.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use super::dialect::{Dialect, Durability};
use super::migrate;
use crate::StoreError;

/// The read store on a SQL database.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) dialect: Dialect,
    /// The read tables this store writes and reads: the live ones, or a
    /// rebuild's shadow tables (see `rebuild.rs`).
    pub(crate) tables: Tables,
    /// The writer of idempotency claims and answers, in batches (started
    /// with the first claim; shared by a rebuild's shadow store).
    pub(crate) batch: std::sync::Arc<std::sync::OnceLock<super::request_batch::Batcher>>,
    /// Bumped after every batch this store applies (see `ReadModel::applied`).
    pub(crate) applied: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

/// Names of the read tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tables {
    pub posts: String,
    pub comments: String,
    pub rejected: String,
}

impl Tables {
    pub(crate) fn with_suffix(suffix: &str) -> Tables {
        Tables {
            posts: format!("posts{suffix}"),
            comments: format!("comments{suffix}"),
            rejected: format!("rejected_events{suffix}"),
        }
    }
}

impl SqlStore {
    /// The batch writer of idempotency claims and answers.
    pub(crate) fn batcher(&self) -> &super::request_batch::Batcher {
        self.batch
            .get_or_init(|| super::request_batch::Batcher::start(self.pool.clone(), self.dialect))
    }

    /// Connects to `mysql://…` or `sqlite://path` (created if missing) and
    /// runs pending migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        SqlStore::connect_with(url, max_connections, Durability::Full).await
    }

    /// [`SqlStore::connect`], committing as `durability` says on SQLite.
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        durability: Durability,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
        let mut options = AnyConnectOptions::from_str(url)?;
        options = sqlx::ConnectOptions::log_statements(options, tracing::log::LevelFilter::Trace);
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    for statement in dialect.session_setup(durability) {
                        conn.execute(*statement).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        migrate::run(&pool, dialect).await?;
        Ok(SqlStore {
            pool,
            dialect,
            tables: Tables::with_suffix(""),
            batch: Default::default(),
            applied: std::sync::Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    /// A SQLite file for the read model: the log rebuilds what a power
    /// cut could lose.
    pub async fn sqlite(path: &std::path::Path) -> Result<Self, StoreError> {
        SqlStore::sqlite_with(path, Durability::Rebuildable).await
    }

    /// A SQLite file, committing as `durability` says.
    pub async fn sqlite_with(path: &std::path::Path, durability: Durability) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        SqlStore::connect_with(&url, 8, durability).await
    }
}

/// A TEXT column as a string. `sqlx::Any` reports MySQL TEXT columns as
/// BLOB, so the bytes are taken and checked as UTF-8 when a string is refused.
pub(crate) fn text(row: &sqlx::any::AnyRow, column: &str) -> Result<String, StoreError> {
    use sqlx::Row;
    match row.try_get::<String, _>(column) {
        Ok(s) => Ok(s),
        Err(sqlx::Error::ColumnDecode { .. }) => {
            let bytes: Vec<u8> = row.try_get(column)?;
            String::from_utf8(bytes).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
        }
        Err(e) => Err(e.into()),
    }
}

/// A nullable TEXT column; see [`text`].
pub(crate) fn text_or_null(row: &sqlx::any::AnyRow, column: &str) -> Result<Option<String>, StoreError> {
    use sqlx::Row;
    match row.try_get::<Option<String>, _>(column) {
        Ok(s) => Ok(s),
        Err(sqlx::Error::ColumnDecode { .. }) => {
            let bytes: Option<Vec<u8>> = row.try_get(column)?;
            bytes
                .map(|b| String::from_utf8(b).map_err(|e| StoreError::Corrupt(format!("{column}: {e}"))))
                .transpose()
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) use imagegram_schemas::now_us;
