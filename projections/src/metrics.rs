//! What the projections count for `/metrics`: the projector's batches
//! (records per batch, time to apply one) and the feed caches' hits and
//! misses.

use metrics::Counter;

pub const BATCH_RECORDS: &str = "imagegram_projector_batch_records";
pub const APPLY_DURATION: &str = "imagegram_projector_apply_duration_seconds";
pub const CACHE_LOOKUPS: &str = "imagegram_feed_cache_lookups_total";

/// Gives each of this crate's metrics its help text.
pub fn describe() {
    metrics::describe_histogram!(BATCH_RECORDS, "Events in each batch the projector applied.");
    metrics::describe_histogram!(
        APPLY_DURATION,
        metrics::Unit::Seconds,
        "Time to apply one batch and its log positions to the read tables (one transaction)."
    );
    metrics::describe_counter!(
        CACHE_LOOKUPS,
        "Lookups in the feed's caches (posts, snapshots, rendered), by cache and result (hit, miss)."
    );
}

/// A cache's hit and miss counters, registered once so counting is an
/// atomic add on the hot path.
#[derive(Clone)]
pub struct CacheCounters {
    hit: Counter,
    miss: Counter,
}

impl CacheCounters {
    pub fn new(cache: &'static str) -> Self {
        CacheCounters {
            hit: metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => "hit"),
            miss: metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => "miss"),
        }
    }

    pub fn count(&self, hits: u64, misses: u64) {
        if hits > 0 {
            self.hit.increment(hits);
        }
        if misses > 0 {
            self.miss.increment(misses);
        }
    }
}
