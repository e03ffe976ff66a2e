//! The upload-session part of the contract: compare-and-set offsets,
//! parts in order however many, the first read with the row, expiry.

use imagegram_readstore::{ReadStores, Upload};
use uuid::Uuid;

pub async fn uploads_advance_by_compare_and_set(stores: ReadStores) {
    let store = stores.uploads;
    let mut upload = Upload {
        id: Uuid::new_v4(),
        owner: "ann".into(),
        length: None,
        offset: 0,
        metadata: "caption aGk=".into(),
        created_at: 10,
        expires_at: 1_000,
        post_id: None,
        first_part: None,
    };
    store.create_upload(&upload).await.expect("create");
    assert_eq!(store.upload(upload.id).await.expect("read"), Some(upload.clone()));
    upload.offset = 2;
    upload.length = Some(9);
    assert!(store
        .advance_upload(&upload, 0, Some("a1"))
        .await
        .expect("advance"));
    upload.first_part = Some("a1".into());
    assert_eq!(
        store.upload(upload.id).await.expect("read"),
        Some(upload.clone()),
        "the first part is read with the row"
    );
    upload.offset = 5;
    assert!(store
        .advance_upload(&upload, 2, Some("b2"))
        .await
        .expect("advance"));
    let mut stale = upload.clone();
    stale.offset = 7;
    assert!(
        !store
            .advance_upload(&stale, 2, Some("c3"))
            .await
            .expect("a stale advance"),
        "its offset moved"
    );
    assert_eq!(store.upload(upload.id).await.expect("read"), Some(upload.clone()));
    assert_eq!(store.upload_parts(upload.id).await.expect("parts"), ["a1", "b2"]);
    let post = Uuid::new_v4();
    store.set_upload_post(upload.id, post).await.expect("post");
    assert_eq!(
        store
            .upload(upload.id)
            .await
            .expect("read")
            .and_then(|u| u.post_id),
        Some(post)
    );
    assert!(store.expired_uploads(1_000, 10).await.expect("sweep").is_empty());
    let expired = store.expired_uploads(1_001, 10).await.expect("sweep");
    assert!(expired.iter().any(|u| u.id == upload.id));
    store.delete_upload(upload.id).await.expect("delete");
    assert_eq!(store.upload(upload.id).await.expect("read"), None);
}

/// 5,000 PATCHes' worth of parts, one per advance, all kept in order
/// (a single TEXT column held about 2,500 on MySQL).
pub async fn an_upload_of_5000_parts_keeps_them_all(stores: ReadStores) {
    let store = stores.uploads;
    let mut upload = Upload {
        id: Uuid::new_v4(),
        owner: "ann".into(),
        length: Some(5_000),
        offset: 0,
        metadata: String::new(),
        created_at: 10,
        expires_at: 1_000,
        post_id: None,
        first_part: None,
    };
    store.create_upload(&upload).await.expect("create");
    let mut parts = Vec::new();
    for offset in 0..5_000u64 {
        let part = format!("{offset:012}-{}", upload.id.simple());
        upload.offset = offset + 1;
        let moved = store.advance_upload(&upload, offset, Some(&part)).await;
        assert!(moved.expect("advance"));
        parts.push(part);
    }
    upload.first_part = parts.first().cloned();
    assert_eq!(store.upload(upload.id).await.expect("read"), Some(upload.clone()));
    assert_eq!(store.upload_parts(upload.id).await.expect("parts"), parts);
    store.delete_upload(upload.id).await.expect("delete");
    assert_eq!(store.upload(upload.id).await.expect("read"), None);
}
