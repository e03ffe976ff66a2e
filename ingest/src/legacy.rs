//! The original system's routes, kept for existing clients: its upload and
//! comment take the same token and do exactly what their current
//! counterparts do; its feed answers in its original shape and takes its
//! original cursors (a position in the feed) as well as opaque ones.

use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use imagegram_readstore::FeedKey;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::User;
use crate::json_body::JsonBody;
use crate::state::AppState;
use crate::Problem;

/// Old upload: multipart with a file part `file` (and an optional `caption`).
#[utoipa::path(post, path = "/image/upload", tag = "legacy",
    request_body(content_type = "multipart/form-data", description = "parts: file, caption"),
    responses((status = 202, body = crate::views::PostJson)), security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    user: User,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, Problem> {
    crate::posts::create(state, user, None, &headers, multipart, "file").await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OldComment {
    pub image_id: Uuid,
    pub comment: String,
}

/// Old comment: `{"image_id", "comment"}`.
#[utoipa::path(post, path = "/comment", tag = "legacy", request_body = OldComment,
    responses((status = 201, body = crate::views::CommentJson)), security(("bearer" = [])))]
pub async fn comment(
    State(state): State<AppState>,
    user: User,
    headers: HeaderMap,
    JsonBody(request): JsonBody<OldComment>,
) -> Result<Response, Problem> {
    crate::comments::add(state, user, request.image_id, &request.comment, &headers).await
}

/// Where a page of `GET /post` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OldCursor {
    /// A position in the feed, counted from 0: the original API's cursors.
    Position(usize),
    /// Just after this post: the opaque cursors this gateway hands out.
    After(FeedKey),
}

fn parse_cursor(text: &str) -> Result<OldCursor, Problem> {
    let bad = || {
        Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-cursor",
            "the cursor cannot be read; start again",
        )
    };
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(OldCursor::Position).map_err(|_| bad());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad())?;
    let cursor: KeyCursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(OldCursor::After(FeedKey {
        comment_count: cursor.c,
        created_at: cursor.t,
        id: cursor.i,
    }))
}

/// An opaque place in the feed.
#[derive(Debug, Serialize, Deserialize)]
struct KeyCursor {
    c: i64,
    t: i64,
    i: Uuid,
}

fn encode_cursor(key: &FeedKey) -> String {
    let cursor = KeyCursor {
        c: key.comment_count,
        t: key.created_at,
        i: key.id,
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

fn page_limit(limit: Option<i64>) -> Result<usize, Problem> {
    match limit.unwrap_or(20) {
        n @ 1..=100 => Ok(n as usize),
        n => Err(Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-limit",
            format!("limit is 1 to 100, not {n}"),
        )),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OldFeedQuery {
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    /// The previous page's `nextCursor`, or a position in the feed counted
    /// from 0 (`nextCursor=10` starts at position 10, the top post being 0).
    #[serde(rename = "nextCursor")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OldPost {
    image_id: Uuid,
    image_url: String,
    created_timestamp: i64,
    comments: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OldFeed {
    /// Null on the last page; a position when the request gave one.
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
    posts: Vec<OldPost>,
}

/// The original system's feed, in its original shape, read from the read
/// store (as fresh as `GET /v1/posts/{id}`). Positions are found in the
/// live ranking, an ordered set, instead of an SQL OFFSET scan.
#[utoipa::path(get, path = "/post", tag = "legacy", params(OldFeedQuery), responses((status = 200, body = OldFeed)))]
pub async fn old_feed(
    State(state): State<AppState>,
    Query(query): Query<OldFeedQuery>,
) -> Result<Response, Problem> {
    let limit = page_limit(query.limit)?;
    let cursor = query
        .next_cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(parse_cursor)
        .transpose()?;
    let (page, next_cursor) = match cursor {
        Some(OldCursor::Position(at)) => {
            let ranking = state.feed.live();
            let keys = ranking.page_at(at, limit);
            let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
            let mut page = state.read_model.posts(&ids).await?;
            page.sort_by_key(|p| ids.iter().position(|id| *id == p.id));
            let more = keys.last().is_some_and(|last| ranking.has_after(*last));
            (page, more.then(|| (at + keys.len()).to_string()))
        }
        after => {
            let after = match after {
                Some(OldCursor::After(key)) => Some(key),
                _ => None,
            };
            let mut page = state.read_model.feed(after, limit as u32 + 1).await?;
            let more = page.len() > limit;
            page.truncate(limit);
            let next = page.last().filter(|_| more).map(|p| encode_cursor(&p.feed_key()));
            (page, next)
        }
    };
    let posts = page
        .iter()
        .map(|p| OldPost {
            image_id: p.id,
            image_url: crate::views::image_url(p.id),
            created_timestamp: p.created_at / 1000,
            comments: p.last_comments.iter().map(|c| c.content.clone()).collect(),
        })
        .collect();
    Ok(axum::Json(OldFeed { next_cursor, posts }).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn digits_are_a_position_and_anything_else_an_opaque_key() {
        assert_eq!(parse_cursor("10").ok(), Some(OldCursor::Position(10)));
        assert_eq!(parse_cursor("0").ok(), Some(OldCursor::Position(0)));
        let key = FeedKey {
            comment_count: 3,
            created_at: 4,
            id: Uuid::from_u128(5),
        };
        assert_eq!(
            parse_cursor(&encode_cursor(&key)).ok(),
            Some(OldCursor::After(key))
        );
        for bad in ["-1", "1e3", "99999999999999999999999", "!!", "e30"] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_cursors_never_panic(text in ".{0,300}") {
            let _ = parse_cursor(&text);
        }
    }
}
