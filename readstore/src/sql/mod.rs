//! The SQL adapter: MySQL/MariaDB or SQLite behind one `sqlx::Any` pool.

mod apply;
mod dialect;
mod queries;
mod rebuild;
mod requests;
mod uploads;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use imagegram_eventlog::Position;
use imagegram_schemas::Event;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use uuid::Uuid;

pub(crate) use dialect::Dialect;

use crate::{
    Advance, Applied, Claim, CommentState, Counts, FeedKey, PostView, ReadStore, StoreError, Upload,
};

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The read store on a SQL database.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) dialect: Dialect,
    /// The read tables this store writes and reads: the live ones, or a
    /// rebuild's shadow tables (see `rebuild.rs`).
    pub(crate) tables: Tables,
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
    /// Connects to `mysql://…` or `sqlite://path` (created if missing) and
    /// runs pending migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::of_url(url).ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
        let mut options = AnyConnectOptions::from_str(url)?;
        options = sqlx::ConnectOptions::log_statements(options, tracing::log::LevelFilter::Trace);
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    for statement in dialect.session_setup() {
                        conn.execute(*statement).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        match dialect {
            Dialect::MySql => MYSQL_MIGRATIONS.run(&pool).await?,
            Dialect::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
        }
        Ok(SqlStore {
            pool,
            dialect,
            tables: Tables::with_suffix(""),
        })
    }

    /// The embedded default: a SQLite file.
    pub async fn sqlite(path: &std::path::Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        let url = format!("sqlite://{}?mode=rwc", path.display());
        SqlStore::connect(&url, 8).await
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

#[async_trait]
impl ReadStore for SqlStore {
    fn backend(&self) -> &'static str {
        self.dialect.name()
    }

    async fn positions(&self, projection: &str) -> Result<Vec<Position>, StoreError> {
        apply::positions(self, projection).await
    }

    async fn apply(
        &self,
        projection: &str,
        events: &[Event],
        advances: &[Advance],
    ) -> Result<Applied, StoreError> {
        apply::apply(self, projection, events, advances).await
    }

    async fn post(&self, id: Uuid) -> Result<Option<PostView>, StoreError> {
        queries::post(self, id).await
    }

    async fn posts(&self, ids: &[Uuid]) -> Result<Vec<PostView>, StoreError> {
        queries::posts(self, ids).await
    }

    async fn comment(&self, post_id: Uuid, comment_id: Uuid) -> Result<Option<CommentState>, StoreError> {
        queries::comment(self, post_id, comment_id).await
    }

    async fn feed(&self, after: Option<FeedKey>, limit: u32) -> Result<Vec<PostView>, StoreError> {
        queries::feed(self, after, limit).await
    }

    async fn claim_request(
        &self,
        actor: &str,
        key: &str,
        hash: &str,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError> {
        requests::claim(self, actor, key, hash, lease).await
    }

    async fn renew_request(
        &self,
        actor: &str,
        key: &str,
        lease: std::time::Duration,
    ) -> Result<(), StoreError> {
        requests::renew(self, actor, key, lease).await
    }

    async fn complete_request(&self, actor: &str, key: &str, response: &str) -> Result<(), StoreError> {
        requests::complete(self, actor, key, response).await
    }

    async fn release_request(&self, actor: &str, key: &str) -> Result<(), StoreError> {
        requests::release(self, actor, key).await
    }

    async fn is_processed(&self, consumer: &str, event_id: Uuid) -> Result<bool, StoreError> {
        requests::is_processed(self, consumer, event_id).await
    }

    async fn mark_processed(&self, consumer: &str, event_id: Uuid) -> Result<(), StoreError> {
        requests::mark_processed(self, consumer, event_id).await
    }

    async fn check(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn shadow(&self, projection: &str) -> Result<std::sync::Arc<dyn ReadStore>, StoreError> {
        Ok(std::sync::Arc::new(self.make_shadow(projection).await?))
    }

    async fn swap_in(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.swap_shadow_in(from, to).await
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        self.table_counts().await
    }

    async fn create_upload(&self, upload: &Upload) -> Result<(), StoreError> {
        uploads::create(self, upload).await
    }

    async fn upload(&self, id: Uuid) -> Result<Option<Upload>, StoreError> {
        uploads::get(self, id).await
    }

    async fn advance_upload(&self, upload: &Upload, from: u64) -> Result<bool, StoreError> {
        uploads::advance(self, upload, from).await
    }

    async fn set_upload_post(&self, id: Uuid, post: Uuid) -> Result<(), StoreError> {
        uploads::set_post(self, id, post).await
    }

    async fn delete_upload(&self, id: Uuid) -> Result<(), StoreError> {
        uploads::delete(self, id).await
    }

    async fn expired_uploads(&self, now: i64, limit: u32) -> Result<Vec<Upload>, StoreError> {
        uploads::expired(self, now, limit).await
    }
}
