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

/// A resumable upload written in place: each write goes on from its
/// offset, replacing what a write cut short left past it; a failed or too
/// large write leaves the object as it was up to its offset, and one past
/// the start of a missing object makes nothing; the whole is then one
/// source to compose. A store that does not write in place says so.
pub async fn writes_in_place_replace_what_follows_the_offset(store: Arc<dyn BlobStore>) {
    let upload = key("in-place");
    let data = pattern(3 * MIB + 5, 9);
    let (first, rest) = data.split_at(MIB);
    if !store.writes_in_place() {
        let refused = store
            .write_at(&upload, 0, chunked(first.to_vec(), 4096, None), 10 * MIB as u64)
            .await;
        assert!(matches!(refused, Err(BlobError::Unsupported(_))), "{refused:?}");
        return;
    }
    let at = |offset: usize, bytes: &[u8], fail: Option<usize>| {
        store.write_at(
            &upload,
            offset as u64,
            chunked(bytes.to_vec(), 64 * 1024, fail),
            10 * MIB as u64,
        )
    };
    assert_eq!(at(0, first, None).await.expect("first"), MIB as u64);
    // Garbage past the offset, from a write whose bytes were not kept.
    assert_eq!(
        at(MIB, &pattern(MIB, 200), None).await.expect("garbage"),
        MIB as u64
    );
    assert!(at(MIB, rest, Some(3)).await.is_err(), "a failing body fails");
    assert_eq!(
        store.size(&upload).await.expect("size"),
        Some(MIB as u64),
        "cut back to its offset"
    );
    let too_large = store
        .write_at(&upload, MIB as u64, chunked(rest.to_vec(), 64 * 1024, None), 1024)
        .await;
    assert!(
        matches!(too_large, Err(BlobError::TooLarge { .. })),
        "{too_large:?}"
    );
    assert_eq!(store.size(&upload).await.expect("size"), Some(MIB as u64));
    assert_eq!(at(MIB, rest, None).await.expect("rest"), rest.len() as u64);
    assert!(read_all(&*store, &upload).await == data, "the bytes in order");
    let beyond = at(data.len() + 1, b"x", None).await;
    assert!(beyond.is_err(), "an offset past the end is refused");
    let missing = key("in-place-missing");
    let nothing_there = store
        .write_at(&missing, 5, chunked(b"x".to_vec(), 1, None), 10)
        .await;
    assert!(nothing_there.is_err(), "past the start of a missing object");
    assert_eq!(
        store.size(&missing).await.expect("size"),
        None,
        "and made nothing"
    );

    let to = key("in-place-composed");
    let size = store
        .compose(&[(upload.clone(), data.len() as u64)], &to)
        .await
        .expect("compose");
    assert_eq!(size, data.len() as u64);
    assert!(read_all(&*store, &to).await == data);
    store.delete(&upload).await.expect("delete");
    assert!(
        read_all(&*store, &to).await == data,
        "the composed object outlives its source"
    );
}
