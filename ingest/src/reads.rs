//! Reads the gateway answers from the read model: a post, its image, the feed.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use imagegram_blobstore::keys;
use imagegram_readstore::{FeedKey, PostStatus};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::server::AppState;
use crate::views::PostJson;
use crate::Problem;

fn unavailable(e: impl std::fmt::Display) -> Problem {
    Problem::server(StatusCode::SERVICE_UNAVAILABLE, &e)
}

/// One post, whatever its status.
#[utoipa::path(get, path = "/v1/posts/{id}", tag = "posts", params(("id" = Uuid, Path, description = "post id")),
    responses((status = 200, body = PostJson), (status = 404, description = "no such post", content_type = "application/problem+json")))]
pub async fn get_post(State(state): State<AppState>, Path(id): Path<Uuid>) -> Result<Response, Problem> {
    match state.store.post(id).await.map_err(unavailable)? {
        Some(view) => Ok(axum::Json(PostJson::of(&view)).into_response()),
        None => Err(Problem::client(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such post",
        )),
    }
}

/// The served JPEG of a published post; never the original.
#[utoipa::path(get, path = "/v1/images/{file}", tag = "posts",
    params(("file" = String, Path, description = "`{post id}.jpg`")),
    responses((status = 200, content_type = "image/jpeg", description = "the 600x600 JPEG"),
        (status = 304, description = "not modified"), (status = 404, description = "no published post", content_type = "application/problem+json")))]
pub async fn get_image(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let not_found = || {
        Problem::client(
            StatusCode::NOT_FOUND,
            "not-found",
            "no published image by that name",
        )
    };
    let id = file
        .strip_suffix(".jpg")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(not_found)?;
    let view = state
        .store
        .post(id)
        .await
        .map_err(unavailable)?
        .ok_or_else(not_found)?;
    if view.status != PostStatus::Published {
        return Err(not_found());
    }
    // A post's image never changes once published: its id is its version.
    let etag = format!("\"{}\"", id.simple());
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let bytes = state.blobs.get(&keys::image(id)).await.map_err(unavailable)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg".to_owned()),
            (header::ETAG, etag),
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_owned(),
            ),
        ],
        Body::from(bytes),
    )
        .into_response())
}

/// An opaque place in the feed.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    c: i64,
    t: i64,
    i: Uuid,
}

pub fn encode_cursor(key: &FeedKey) -> String {
    let cursor = Cursor {
        c: key.comment_count,
        t: key.created_at,
        i: key.id,
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

pub fn decode_cursor(text: &str) -> Result<FeedKey, Problem> {
    let bad = || {
        Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-cursor",
            "the cursor cannot be read; start again",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| bad())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(FeedKey {
        comment_count: cursor.c,
        created_at: cursor.t,
        id: cursor.i,
    })
}

/// Limits of a feed page.
pub fn page_limit(limit: Option<i64>) -> Result<u32, Problem> {
    match limit.unwrap_or(20) {
        n @ 1..=100 => Ok(n as u32),
        n => Err(Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-limit",
            format!("limit is 1 to 100, not {n}"),
        )),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OldFeedQuery {
    pub limit: Option<i64>,
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
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
    posts: Vec<OldPost>,
}

/// The original system's feed, in its original shape.
#[utoipa::path(get, path = "/post", tag = "legacy", params(OldFeedQuery), responses((status = 200, body = OldFeed)))]
pub async fn old_feed(
    State(state): State<AppState>,
    Query(query): Query<OldFeedQuery>,
) -> Result<Response, Problem> {
    let limit = page_limit(query.limit)?;
    let after = query
        .next_cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(decode_cursor)
        .transpose()?;
    let page = state.store.feed(after, limit + 1).await.map_err(unavailable)?;
    let more = page.len() > limit as usize;
    let page = &page[..page.len().min(limit as usize)];
    let next_cursor = if more {
        page.last().map(|p| encode_cursor(&p.feed_key()))
    } else {
        None
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
