use thiserror::Error;

/// Everything the read store can fail with.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL {0:?}: use mysql://… or sqlite://…")]
    UnsupportedUrl(String),
    /// Another projector moved these positions first; re-read from the store.
    #[error("projection {0} was advanced by someone else")]
    Conflict(String),
    #[error("stored row is damaged: {0}")]
    Corrupt(String),
}
