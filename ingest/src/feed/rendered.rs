//! Each post's feed JSON, rendered once per version of the post and kept
//! by (id, version), so a page is assembled from ready-made items.

use std::sync::Arc;

use imagegram_readstore::PostView;

use imagegram_projections::metrics::CacheCounters;

use crate::views::PostJson;

/// Each post's feed JSON by (id, version).
#[derive(Clone)]
pub struct RenderedItems {
    items: moka::sync::Cache<(uuid::Uuid, i64), Arc<str>>,
    lookups: CacheCounters,
}

impl RenderedItems {
    /// Room for `bytes` of rendered items.
    pub fn new(bytes: u64) -> Self {
        RenderedItems {
            items: moka::sync::Cache::builder()
                .max_capacity(bytes)
                .weigher(|_, item: &Arc<str>| u32::try_from(64 + item.len()).unwrap_or(u32::MAX))
                .build(),
            lookups: CacheCounters::new("rendered"),
        }
    }

    /// `view` as a feed item: the bytes serde writes for a [`PostJson`].
    pub fn item(&self, view: &PostView) -> Arc<str> {
        let entry = self.items.entry((view.id, view.version)).or_insert_with(|| {
            serde_json::to_string(&PostJson::of(view))
                .unwrap_or_default()
                .into()
        });
        let fresh = u64::from(entry.is_fresh());
        self.lookups.count(1 - fresh, fresh);
        entry.into_value()
    }
}
