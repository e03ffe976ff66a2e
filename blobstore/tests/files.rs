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
