//! The one contract every blob-store adapter must honour.

#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use imagegram_blobstore::{BlobError, BlobStore, ByteStream};

mod compose;
pub use compose::*;

/// Deterministic bytes of a given size, so corruption shows.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[0] ^ seed)
        .collect()
}

/// A body that arrives in `chunk`-sized pieces, failing after `fail_after` bytes if set.
pub fn chunked(data: Vec<u8>, chunk: usize, fail_after: Option<usize>) -> ByteStream {
    let pieces: Vec<Result<Bytes, std::io::Error>> = data
        .chunks(chunk)
        .scan(0usize, move |sent, piece| {
            *sent += piece.len();
            Some(match fail_after {
                Some(limit) if *sent > limit => Err(std::io::Error::other("client went away")),
                _ => Ok(Bytes::copy_from_slice(piece)),
            })
        })
        .collect();
    Box::pin(futures::stream::iter(pieces))
}

fn key(test: &str) -> String {
    format!("contract/{test}/{}", uuid::Uuid::new_v4().simple())
}

async fn read_all(store: &dyn BlobStore, key: &str) -> Vec<u8> {
    let mut stream = store.get_stream(key).await.expect("get_stream");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

pub async fn small_objects_round_trip(store: Arc<dyn BlobStore>) {
    let key = key("small");
    store.put(&key, Bytes::from_static(b"hello")).await.expect("put");
    assert_eq!(store.get(&key).await.expect("get"), Bytes::from_static(b"hello"));
    assert_eq!(store.size(&key).await.expect("size"), Some(5));
    store
        .put(&key, Bytes::from_static(b"replaced"))
        .await
        .expect("replace");
    assert_eq!(
        store.get(&key).await.expect("get"),
        Bytes::from_static(b"replaced")
    );
}

pub async fn large_bodies_stream_in_and_out_intact(store: Arc<dyn BlobStore>) {
    let key = key("large");
    let data = pattern(12 * 1024 * 1024 + 12_345, 7);
    let size = store
        .put_stream(&key, chunked(data.clone(), 64 * 1024, None), 100 << 20)
        .await
        .expect("put");
    assert_eq!(size, data.len() as u64);
    assert_eq!(store.size(&key).await.expect("size"), Some(data.len() as u64));
    assert!(
        read_all(&*store, &key).await == data,
        "the stored bytes are the sent bytes"
    );
}

pub async fn a_body_over_the_limit_leaves_nothing(store: Arc<dyn BlobStore>) {
    let key = key("too-large");
    let data = pattern(11 * 1024 * 1024, 1);
    let outcome = store
        .put_stream(&key, chunked(data, 256 * 1024, None), 10 * 1024 * 1024)
        .await;
    assert!(
        matches!(outcome, Err(BlobError::TooLarge { limit }) if limit == 10 * 1024 * 1024),
        "{outcome:?}"
    );
    assert_eq!(store.size(&key).await.expect("size"), None);
}

pub async fn a_failing_body_keeps_the_previous_object(store: Arc<dyn BlobStore>) {
    let key = key("failing");
    store.put(&key, Bytes::from_static(b"before")).await.expect("put");
    let data = pattern(9 * 1024 * 1024, 3);
    let outcome = store
        .put_stream(&key, chunked(data, 512 * 1024, Some(7 * 1024 * 1024)), 100 << 20)
        .await;
    assert!(matches!(outcome, Err(BlobError::Body(_))), "{outcome:?}");
    assert_eq!(store.get(&key).await.expect("get"), Bytes::from_static(b"before"));
}

pub async fn missing_objects(store: Arc<dyn BlobStore>) {
    let key = key("missing");
    assert!(matches!(store.get(&key).await, Err(BlobError::NotFound(_))));
    assert!(matches!(
        store.get_stream(&key).await,
        Err(BlobError::NotFound(_))
    ));
    assert_eq!(store.size(&key).await.expect("size"), None);
    store.delete(&key).await.expect("deleting nothing is fine");
    store.put(&key, Bytes::from_static(b"x")).await.expect("put");
    store.delete(&key).await.expect("delete");
    assert_eq!(store.size(&key).await.expect("size"), None);
}

pub async fn rename_moves_an_object(store: Arc<dyn BlobStore>) {
    let (from, to) = (key("rename-from"), key("rename-to"));
    store
        .put(&to, Bytes::from_static(b"old"))
        .await
        .expect("put target");
    store
        .put_stream(&from, chunked(pattern(700_000, 4), 65536, None), 1 << 20)
        .await
        .expect("put");
    store.rename(&from, &to).await.expect("rename");
    assert_eq!(store.size(&from).await.expect("size"), None);
    assert!(store.get(&to).await.expect("get") == pattern(700_000, 4));
    assert!(matches!(
        store.rename(&from, &to).await,
        Err(BlobError::NotFound(_))
    ));
}

pub async fn unsafe_keys_are_refused(store: Arc<dyn BlobStore>) {
    for bad in [
        "",
        "../etc/passwd",
        "a//b",
        "a/./b",
        "with space",
        "/absolute",
        "trailing/",
        "ü",
    ] {
        let outcome = store.put(bad, Bytes::from_static(b"x")).await;
        assert!(
            matches!(outcome, Err(BlobError::InvalidKey(_))),
            "{bad:?} was accepted"
        );
    }
}

pub async fn concurrent_writers(store: Arc<dyn BlobStore>) {
    let mut tasks = Vec::new();
    for i in 0..16u8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let key = key("concurrent");
            let data = pattern(300_000 + i as usize, i);
            store
                .put_stream(&key, chunked(data.clone(), 32 * 1024, None), 1 << 20)
                .await
                .expect("put");
            assert!(store.get(&key).await.expect("get") == data);
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
}

/// Where objects are files here, one opens as a file holding its bytes,
/// and a missing one is `NotFound`; elsewhere there is no local file.
pub async fn local_objects_open_as_files(store: Arc<dyn BlobStore>) {
    use std::io::Read;
    let stored = key("local");
    let data = pattern(70_000, 9);
    store.put(&stored, Bytes::from(data.clone())).await.expect("put");
    match store.open_local(&stored).await.expect("open_local") {
        Some(mut file) => {
            let mut read = Vec::new();
            file.read_to_end(&mut read).expect("read");
            assert!(read == data, "the local file holds other bytes");
            assert!(matches!(
                store.open_local(&key("never-written")).await,
                Err(BlobError::NotFound(_))
            ));
        }
        None => assert!(matches!(store.open_local(&key("never-written")).await, Ok(None))),
    }
}

#[macro_export]
macro_rules! blob_contract_suite {
    ($store:expr) => {
        $crate::blob_contract_suite!(@tests $store;
            small_objects_round_trip, large_bodies_stream_in_and_out_intact,
            a_body_over_the_limit_leaves_nothing, a_failing_body_keeps_the_previous_object,
            missing_objects, rename_moves_an_object, unsafe_keys_are_refused, concurrent_writers,
            compose_joins_sources_in_order, compose_with_a_missing_source_leaves_nothing,
            writes_in_place_replace_what_follows_the_offset, local_objects_open_as_files,
            old_objects_under_a_folder_are_listed);
    };
    (@tests $store:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                match $store {
                    Some(store) => contract::$name(store).await,
                    // Its opener reported the missing service (a failure under
                    // ./x test and CI).
                    None => {}
                }
            }
        )*
    };
}

/// Objects under a folder, listed when written before the cut-off.
pub async fn old_objects_under_a_folder_are_listed(store: Arc<dyn BlobStore>) {
    let folder = format!("contract/listing-{}/", uuid::Uuid::new_v4().simple());
    for name in ["a", "deeper/b"] {
        store
            .put(&format!("{folder}{name}"), Bytes::from_static(b"abc"))
            .await
            .expect("put");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    let minute = 60_000_000;
    let mut listed = store.list_older(&folder, now + minute, 100).await.expect("list");
    listed.sort_by(|a, b| a.key.cmp(&b.key));
    let keys: Vec<&str> = listed.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(keys, [format!("{folder}a"), format!("{folder}deeper/b")]);
    assert!(listed
        .iter()
        .all(|l| l.size == 3 && (now - minute..now + minute).contains(&l.modified)));
    assert!(store
        .list_older(&folder, now - minute, 100)
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        store
            .list_older(&folder, now + minute, 1)
            .await
            .expect("list")
            .len(),
        1
    );
    assert!(store
        .list_older("no-such-folder/", now + minute, 10)
        .await
        .expect("list")
        .is_empty());
    assert!(store.list_older("../", now, 10).await.is_err());
}
