//! Joining objects into one, as a finished resumable upload does.

use std::sync::Arc;

use imagegram_blobstore::{BlobError, BlobStore};

use super::{chunked, key, pattern, read_all};

const MIB: usize = 1024 * 1024;

/// Sizes chosen so that on S3 every way a source becomes a part is taken:
/// small sources gathered into a buffer, a buffer topped up from a large
/// source whose rest is copied server-side from an offset, a large source
/// copied whole, and a small last part.
pub async fn compose_joins_sources_in_order(store: Arc<dyn BlobStore>) {
    let sizes = [
        1_000,
        6 * MIB + 3,
        300_000,
        5 * MIB,
        2 * MIB,
        9 * MIB + 7,
        5 * MIB + 1,
        10,
    ];
    let mut sources = Vec::new();
    let mut expected = Vec::new();
    for (i, size) in sizes.into_iter().enumerate() {
        let data = pattern(size, i as u8 * 31);
        let source = key("compose-source");
        store
            .put_stream(&source, chunked(data.clone(), 256 * 1024, None), 100 << 20)
            .await
            .expect("put source");
        expected.extend_from_slice(&data);
        sources.push((source, size as u64));
    }
    let to = key("compose-to");
    let size = store.compose(&sources, &to).await.expect("compose");
    assert_eq!(size, expected.len() as u64);
    assert!(
        read_all(&*store, &to).await == expected,
        "the joined object is the sources' bytes in order"
    );
    for (source, size) in &sources {
        assert_eq!(
            store.size(source).await.expect("size"),
            Some(*size),
            "sources stay"
        );
    }
    let small = &sources[..1];
    let copy = key("compose-small");
    assert_eq!(store.compose(small, &copy).await.expect("compose one"), 1_000);
    assert!(store.get(&copy).await.expect("get") == pattern(1_000, 0));
}

pub async fn compose_with_a_missing_source_leaves_nothing(store: Arc<dyn BlobStore>) {
    let present = key("compose-present");
    store
        .put_stream(&present, chunked(pattern(70_000, 3), 8192, None), 1 << 20)
        .await
        .expect("put");
    let to = key("compose-broken");
    let sources = vec![(present, 70_000), (key("compose-missing"), 5_000)];
    let outcome = store.compose(&sources, &to).await;
    assert!(matches!(outcome, Err(BlobError::NotFound(_))), "{outcome:?}");
    assert_eq!(store.size(&to).await.expect("size"), None);
    let short = vec![(sources[0].0.clone(), 80_000)];
    let outcome = store.compose(&short, &to).await;
    assert!(
        matches!(outcome, Err(BlobError::SizeMismatch { .. })),
        "{outcome:?}"
    );
    assert_eq!(store.size(&to).await.expect("size"), None);
}
