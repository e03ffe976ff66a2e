//! The contract suite against local files.

mod contract;

use std::sync::Arc;

use imagegram_blobstore::files::FileStore;
use imagegram_blobstore::BlobStore;

async fn files() -> Option<Arc<dyn BlobStore>> {
    // Leaked on purpose: the directory must outlive the store in the test.
    let dir = Box::leak(Box::new(tempfile::tempdir().expect("temp dir")));
    Some(Arc::new(FileStore::open(dir.path()).expect("file store")))
}

blob_contract_suite!(files().await);

#[tokio::test]
async fn partial_files_are_not_left_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileStore::open(dir.path()).expect("file store");
    let body = contract::chunked(contract::pattern(3 << 20, 9), 65536, Some(1 << 20));
    assert!(store.put_stream("originals/p", body, 10 << 20).await.is_err());
    let partials = std::fs::read_dir(dir.path().join(".partial"))
        .expect("partial dir")
        .count();
    assert_eq!(partials, 0);
}

/// A partial file left by a process killed mid-write is dropped once it
/// is older than the cut-off; one being written now is not.
#[tokio::test]
async fn abandoned_partial_files_are_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FileStore::open(dir.path()).expect("file store");
    std::fs::write(dir.path().join(".partial/left-by-a-killed-process"), b"half").expect("partial");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    assert_eq!(
        store
            .drop_abandoned_writes(now - 60_000_000)
            .await
            .expect("sweep"),
        0
    );
    assert_eq!(
        store
            .drop_abandoned_writes(now + 60_000_000)
            .await
            .expect("sweep"),
        1
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join(".partial"))
            .expect("dir")
            .count(),
        0
    );
}
