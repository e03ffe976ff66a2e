//! Feed pages as answered, kept by what they are made of: the feed's
//! version (which every change to a post or to the ranking moves), the
//! snapshot, where the page starts and how long it is. The first page is
//! read thousands of times between two changes to the feed; each of those
//! reads is then one lookup here instead of a lookup per post and per
//! rendered item, and the page is compressed once per coding, when a client
//! first asks for it so.

use std::sync::{Arc, OnceLock};

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use imagegram_projections::metrics::CacheCounters;
use imagegram_readstore::FeedKey;

use super::compressed::{negotiate, Coding};

/// What a page is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// The feed's version when the page was assembled.
    pub version: u64,
    pub snapshot: u64,
    /// The last post of the page before it (none for the first page).
    pub after: Option<FeedKey>,
    pub limit: usize,
}

/// A page's JSON, and its compressed forms as they are asked for.
pub struct Page {
    json: Bytes,
    /// By `Coding as usize`: gzip, br, zstd.
    coded: [OnceLock<Bytes>; 3],
}

/// Answered pages by [`PageKey`].
#[derive(Clone)]
pub struct AnsweredPages {
    pages: moka::sync::Cache<PageKey, Arc<Page>>,
    lookups: CacheCounters,
}

impl AnsweredPages {
    /// Room for about `bytes` of pages with their compressed forms.
    pub fn new(bytes: u64) -> Self {
        AnsweredPages {
            pages: moka::sync::Cache::builder()
                .max_capacity(bytes)
                // Its compressed forms are each a fifth of it or less.
                .weigher(|_, page: &Arc<Page>| {
                    u32::try_from(256 + page.json.len() * 8 / 5).unwrap_or(u32::MAX)
                })
                // A page of the feed's new version must always get in (an
                // admission filter would keep the old version's, read more
                // often so far and never again).
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
            lookups: CacheCounters::new("pages"),
        }
    }

    /// The page kept for `key`, if any.
    pub fn get(&self, key: &PageKey) -> Option<Arc<Page>> {
        let found = self.pages.get(key);
        let hit = u64::from(found.is_some());
        self.lookups.count(hit, 1 - hit);
        found
    }

    /// Keeps `json` as the page for `key`.
    pub fn keep(&self, key: PageKey, json: String) -> Arc<Page> {
        let page = Arc::new(Page {
            json: Bytes::from(json),
            coded: Default::default(),
        });
        self.pages.insert(key, Arc::clone(&page));
        page
    }
}

impl Page {
    /// The page as the request's `Accept-Encoding` asks, with
    /// `Vary: Accept-Encoding`.
    pub fn answer(&self, headers: &HeaderMap) -> Response {
        let json = (header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let vary = (header::VARY, HeaderValue::from_static("accept-encoding"));
        // Under 32 bytes (an empty feed), compressing would add bytes; the
        // router's layer holds the same line.
        let coding = negotiate(headers).filter(|_| self.json.len() >= 32);
        let Some(coding) = coding else {
            return ([json, vary], self.json.clone()).into_response();
        };
        match self.coded(coding) {
            Some(coded) => {
                let named = (header::CONTENT_ENCODING, HeaderValue::from_static(coding.name()));
                ([json, vary, named], coded).into_response()
            }
            // Cannot happen writing to memory; the page goes out as it is.
            None => ([json, vary], self.json.clone()).into_response(),
        }
    }

    /// The page in `coding`, compressed by the first reader that asks;
    /// readers asking at the same moment may each compress it once.
    fn coded(&self, coding: Coding) -> Option<Bytes> {
        let slot = &self.coded[coding as usize];
        if let Some(coded) = slot.get() {
            return Some(coded.clone());
        }
        let coded = Bytes::from(coding.compress(&self.json).ok()?);
        Some(slot.get_or_init(|| coded).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::compressed::accepting;

    fn key(version: u64) -> PageKey {
        PageKey {
            version,
            snapshot: 1,
            after: None,
            limit: 20,
        }
    }

    fn body() -> String {
        "{\"items\":[".to_owned() + &"{\"id\":1,\"caption\":\"x\"},".repeat(200) + "]}"
    }

    #[test]
    fn a_page_is_kept_by_version_and_compressed_once_per_coding() {
        let pages = AnsweredPages::new(1 << 20);
        assert!(pages.get(&key(1)).is_none());
        let page = pages.keep(key(1), body());
        let first = page.answer(&accepting("gzip"));
        assert_eq!(first.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(first.headers()[header::VARY], "accept-encoding");
        let kept = pages.get(&key(1)).expect("kept");
        assert!(kept.coded[Coding::Gzip as usize].get().is_some());
        assert!(kept.coded[Coding::Zstd as usize].get().is_none());
        assert!(pages.get(&key(2)).is_none(), "another version is another page");
        let plain = kept.answer(&HeaderMap::new());
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
    }

    #[test]
    fn an_empty_feed_goes_out_as_it_is() {
        let pages = AnsweredPages::new(1 << 20);
        let page = pages.keep(key(1), "{\"items\":[],\"next_cursor\":null}".into());
        let answer = page.answer(&accepting("br"));
        assert!(answer.headers().get(header::CONTENT_ENCODING).is_none());
    }

    /// Past its room, the oldest versions go and the newest pages stay.
    #[test]
    fn the_newest_versions_stay() {
        let pages = AnsweredPages::new(64 * 1024);
        for version in 0..200 {
            pages.keep(key(version), body());
            for _ in 0..3 {
                pages.get(&key(version));
            }
        }
        pages.pages.run_pending_tasks();
        assert!(pages.get(&key(199)).is_some());
        assert!(pages.get(&key(0)).is_none());
    }
}
