//! `GET /v1/posts?limit=&cursor=`: published posts, most comments first,
//! then newest, then id. The first page takes a snapshot of the ranking;
//! its cursors walk that snapshot, so while comments come and go every
//! post published at the first page is served exactly once, in the order
//! of that moment. Items show the posts as they are now. The snapshot lives
//! in this gateway's memory; a cursor made by another gateway is forwarded
//! to it (`peers.rs`), so paging works through any gateway.

use std::sync::Arc;

use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub(crate) mod compressed;
pub(crate) mod cursor;
pub(crate) mod pages;
pub(crate) mod peers;
pub(crate) mod rendered;

pub use cursor::CursorSigner;
pub use peers::Peers;
pub use rendered::RenderedItems;

use crate::state::AppState;
use crate::views::PostJson;
use crate::Problem;
use cursor::FeedCursor;
use pages::PageKey;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

#[derive(Debug, Deserialize, IntoParams)]
pub struct FeedQuery {
    /// 1 to 100, default 20.
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)] // the OpenAPI shape; pages are assembled from cached item JSON
pub struct FeedPage {
    pub items: Vec<PostJson>,
    /// Null on the last page.
    pub next_cursor: Option<String>,
}

fn parse_limit(limit: Option<&str>) -> Result<usize, Problem> {
    let Some(text) = limit else {
        return Ok(DEFAULT_LIMIT);
    };
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-limit",
            format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
        )),
    }
}

/// The feed, paged by cursor over a snapshot of the ranking.
#[utoipa::path(get, path = "/v1/posts", tag = "posts", params(FeedQuery),
    responses((status = 200, body = FeedPage),
        (status = 400, description = "bad limit, or a cursor that was changed or cannot be read", content_type = "application/problem+json"),
        (status = 410, description = "the cursor's snapshot expired (after 15 minutes), or the gateway instance holding it stopped: start again from the first page", content_type = "application/problem+json")))]
pub async fn feed(
    State(state): State<AppState>,
    Query(query): Query<FeedQuery>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let limit = parse_limit(query.limit.as_deref())?;
    let (snapshot_id, ranking, after) = match query.cursor.as_deref() {
        None | Some("") => {
            let (id, ranking) = state.feed.snapshot_now();
            (id, ranking, None)
        }
        Some(text) => {
            let cursor = state.cursors.decode(text).ok_or_else(|| {
                Problem::client(
                    StatusCode::BAD_REQUEST,
                    "bad-cursor",
                    "the cursor was changed or cannot be read",
                )
            })?;
            if cursor.instance != state.instance {
                let path = uri.path_and_query().map_or("/v1/posts", |p| p.as_str());
                // One hop at most: a forwarded request is answered here.
                if state.peers.is_hop(&headers, path) {
                    return Err(peers::owner_gone());
                }
                return state.peers.forward(cursor.instance, path).await;
            }
            let ranking = state
                .feed
                .snapshot(cursor.snapshot)
                .ok_or_else(peers::owner_gone)?;
            (cursor.snapshot, ranking, Some(cursor.after))
        }
    };
    // The version first: views read after it are at least that new.
    let key = PageKey {
        version: state.feed.version(),
        snapshot: snapshot_id,
        after,
        limit,
    };
    if let Some(page) = state.pages.get(&key) {
        return Ok(page.answer(&headers));
    }
    let keys = ranking.page(after, limit);
    let views = state.feed.views(&keys).await?;
    let next_cursor = keys
        .last()
        .filter(|last| keys.len() == limit && ranking.has_after(**last))
        .map(|last| {
            state.cursors.encode(&FeedCursor {
                instance: state.instance,
                snapshot: snapshot_id,
                after: *last,
            })
        });
    // The page is assembled from each post's JSON, rendered once per
    // version of the post: same bytes as serialising a `FeedPage`.
    let items: Vec<Arc<str>> = views.iter().map(|v| state.rendered.item(v)).collect();
    let mut body = String::with_capacity(64 + items.iter().map(|i| i.len() + 1).sum::<usize>());
    body.push_str("{\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(item);
    }
    body.push_str("],\"next_cursor\":");
    match next_cursor {
        Some(cursor) => {
            body.push('"');
            body.push_str(&cursor); // base64url: nothing to escape
            body.push('"');
        }
        None => body.push_str("null"),
    }
    body.push('}');
    Ok(state.pages.keep(key, body).answer(&headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assembled_page_is_what_serde_would_write() {
        let page = FeedPage {
            items: Vec::new(),
            next_cursor: Some("abc".into()),
        };
        assert_eq!(
            serde_json::to_string(&page).ok().as_deref(),
            Some("{\"items\":[],\"next_cursor\":\"abc\"}")
        );
    }

    #[test]
    fn limits_outside_1_to_100_are_refused() {
        assert_eq!(parse_limit(None).ok(), Some(20));
        assert_eq!(parse_limit(Some("100")).ok(), Some(100));
        for bad in ["0", "101", "-1", "ten", ""] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
