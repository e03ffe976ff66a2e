//! Upload sessions: the state of resumable (tus) uploads. The names of
//! the chunk objects holding an upload's bytes are read apart from the
//! upload ([`UploadSessions::upload_parts`]), and each PATCH adds one, so
//! a PATCH costs the same however many came before it.

use async_trait::async_trait;
use uuid::Uuid;

use crate::StoreError;

/// A resumable upload in progress (or complete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: Uuid,
    pub owner: String,
    /// `None` while the client defers the length.
    pub length: Option<u64>,
    pub offset: u64,
    /// `Upload-Metadata` as the client sent it.
    pub metadata: String,
    /// Microseconds since the epoch.
    pub created_at: i64,
    pub expires_at: i64,
    /// The post made from it, once complete.
    pub post_id: Option<Uuid>,
    /// The name of its first part (see [`UploadSessions::upload_parts`]),
    /// read with the row, so a request can tell how its bytes are kept
    /// without another trip; `None` before any. Reads fill it; writes
    /// ignore it (parts are added by [`UploadSessions::advance_upload`]).
    pub first_part: Option<String>,
}

/// Resumable uploads in progress.
#[async_trait]
pub trait UploadSessions: Send + Sync {
    async fn create_upload(&self, upload: &Upload) -> Result<(), StoreError>;

    async fn upload(&self, id: Uuid) -> Result<Option<Upload>, StoreError>;

    /// Names of the chunk objects holding the upload's bytes, in order.
    async fn upload_parts(&self, id: Uuid) -> Result<Vec<String>, StoreError>;

    /// Stores `upload`'s new offset, length and expiry, and appends `part`
    /// to its parts, if its offset is still `from`; `false` (nothing
    /// changed) if another request moved it.
    async fn advance_upload(
        &self,
        upload: &Upload,
        from: u64,
        part: Option<&str>,
    ) -> Result<bool, StoreError>;

    async fn set_upload_post(&self, id: Uuid, post: Uuid) -> Result<(), StoreError>;

    async fn delete_upload(&self, id: Uuid) -> Result<(), StoreError>;

    /// `owner`'s uploads (or everyone's, for `None`) not yet posted and
    /// not expired at `now`.
    async fn open_uploads(&self, owner: Option<&str>, now: i64) -> Result<u64, StoreError>;

    /// Uploads whose `expires_at` is before `now`, at most `limit`.
    async fn expired_uploads(&self, now: i64, limit: u32) -> Result<Vec<Upload>, StoreError>;
}
