//! The JSON shapes of the API.

use imagegram_readstore::{CommentView, PostView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// RFC 3339 (UTC, milliseconds) from microseconds since the epoch.
pub fn timestamp(micros: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros.max(0) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

/// Where a post's served JPEG is.
pub fn image_url(post: Uuid) -> String {
    format!("/v1/images/{post}.jpg")
}

/// A post as just accepted, or as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PostJson {
    pub id: Uuid,
    pub caption: String,
    pub creator: String,
    /// RFC 3339.
    pub created_at: String,
    /// `processing`, `published` or `failed`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// At most the last two comments, newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<CommentJson>>,
}

impl PostJson {
    pub fn of(view: &PostView) -> Self {
        let published = view.status == imagegram_readstore::PostStatus::Published;
        PostJson {
            id: view.id,
            caption: view.caption.clone(),
            creator: view.creator.clone(),
            created_at: timestamp(view.created_at),
            status: view.status.as_str().to_owned(),
            failure_reason: view.failure_reason.clone(),
            comment_count: Some(view.comment_count),
            image_url: published.then(|| image_url(view.id)),
            comments: Some(view.last_comments.iter().map(CommentJson::of).collect()),
        }
    }
}

/// A comment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommentJson {
    pub id: Uuid,
    pub post_id: Uuid,
    pub creator: String,
    pub content: String,
    /// RFC 3339.
    pub created_at: String,
}

impl CommentJson {
    pub fn of(view: &CommentView) -> Self {
        CommentJson {
            id: view.id,
            post_id: view.post_id,
            creator: view.creator.clone(),
            content: view.content.clone(),
            created_at: timestamp(view.created_at),
        }
    }
}

/// The body of `POST /v1/posts/{id}/comments`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewComment {
    /// 1 to 1,000 characters after trimming.
    pub content: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_764_000_000_123_456), "2025-11-24T16:00:00.123Z");
    }
}
