//! Codec properties: every event round-trips, old versions decode, bad bytes are typed errors.

use imagegram_schemas::registry;
use imagegram_schemas::*;
use proptest::prelude::*;
use serde::Serialize;
use serde_avro_fast::ser::SerializerConfig;
use uuid::Uuid;

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn meta() -> impl Strategy<Value = EventMeta> {
    (
        uuid(),
        ".{0,40}",
        "[a-z0-9_-]{1,24}",
        any::<i64>(),
        uuid(),
        proptest::option::of("[A-Za-z0-9._:-]{1,64}"),
    )
        .prop_map(
            |(event_id, idempotency_key, actor, occurred_at, post_id, request_id)| EventMeta {
                event_id,
                idempotency_key,
                actor,
                occurred_at,
                post_id,
                request_id,
            },
        )
}

fn format() -> impl Strategy<Value = ImageFormat> {
    prop_oneof![
        Just(ImageFormat::Png),
        Just(ImageFormat::Jpeg),
        Just(ImageFormat::Bmp)
    ]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            meta(),
            ".{0,200}",
            ".{1,60}",
            format(),
            any::<i64>(),
            proptest::option::of(".{0,60}")
        )
            .prop_map(
                |(meta, caption, original_key, format, byte_size, original_filename)| {
                    Event::UploadRequested(UploadRequested {
                        meta,
                        caption,
                        original_key,
                        format,
                        byte_size,
                        original_filename,
                    })
                }
            ),
        (
            meta(),
            ".{1,60}",
            ".{1,60}",
            any::<i32>(),
            any::<i32>(),
            any::<i64>()
        )
            .prop_map(|(meta, original_key, image_key, width, height, byte_size)| {
                Event::ImageConverted(ImageConverted {
                    meta,
                    original_key,
                    image_key,
                    width,
                    height,
                    byte_size,
                })
            }),
        (meta(), ".{0,200}")
            .prop_map(|(meta, reason)| Event::ConversionFailed(ConversionFailed { meta, reason })),
        (meta(), uuid(), ".{1,1000}").prop_map(|(meta, comment_id, content)| Event::CommentAdded(
            CommentAdded {
                meta,
                comment_id,
                content
            }
        )),
        (meta(), uuid())
            .prop_map(|(meta, comment_id)| Event::CommentDeleted(CommentDeleted { meta, comment_id })),
        (
            meta(),
            "[a-z.-]{1,30}",
            "[a-z.-]{1,30}",
            any::<i32>(),
            any::<i64>(),
            proptest::collection::vec(any::<u8>(), 0..64),
            ".{0,100}",
            proptest::collection::vec(any::<u8>(), 0..512)
        )
            .prop_map(
                |(
                    meta,
                    consumer,
                    source_topic,
                    source_partition,
                    source_offset,
                    source_key,
                    reason,
                    payload,
                )| {
                    Event::DeadLettered(DeadLettered {
                        meta,
                        consumer,
                        source_topic,
                        source_partition,
                        source_offset,
                        source_key,
                        reason,
                        payload,
                    })
                }
            ),
    ]
}

proptest! {
    #[test]
    fn every_event_round_trips(event in event()) {
        let bytes = encode(&event).expect("encodes");
        let current = registry::current(event.kind()).expect("current schema");
        prop_assert_eq!(fingerprint_of(&bytes).expect("header"), current.fingerprint);
        prop_assert_eq!(decode(&bytes).expect("decodes"), event);
    }

    #[test]
    fn any_prefix_of_a_message_is_an_error_not_a_panic(event in event(), cut in 0usize..10_000) {
        let bytes = encode(&event).expect("encodes");
        let cut = cut % bytes.len();
        prop_assert!(decode(&bytes[..cut]).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn arbitrary_datum_after_a_valid_header_never_panics(
        which in 0usize..7,
        datum in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let all = registry::all().expect("registry");
        let published = &all[which % all.len()];
        let mut bytes = vec![0xC3, 0x01];
        bytes.extend_from_slice(&published.fingerprint.to_le_bytes());
        bytes.extend_from_slice(&datum);
        let _ = decode(&bytes);
    }
}

/// What a producer built against v1 of `UploadRequested` wrote.
#[derive(Serialize)]
struct UploadRequestedV1 {
    meta: MetaV1,
    caption: String,
    original_key: String,
    format: ImageFormat,
    byte_size: i64,
}

/// The meta every event carried before `request_id`.
#[derive(Serialize)]
struct MetaV1 {
    event_id: Uuid,
    idempotency_key: String,
    actor: String,
    occurred_at: i64,
    post_id: Uuid,
}

impl MetaV1 {
    fn of(meta: &EventMeta) -> MetaV1 {
        MetaV1 {
            event_id: meta.event_id,
            idempotency_key: meta.idempotency_key.clone(),
            actor: meta.actor.clone(),
            occurred_at: meta.occurred_at,
            post_id: meta.post_id,
        }
    }
}

#[derive(Serialize)]
struct CommentAddedV1 {
    meta: MetaV1,
    comment_id: Uuid,
    content: String,
}

fn sample_meta() -> EventMeta {
    EventMeta {
        event_id: Uuid::from_u128(1),
        idempotency_key: "retry-1".into(),
        actor: "alice".into(),
        occurred_at: 1_764_000_000_000_000,
        post_id: Uuid::from_u128(2),
        request_id: None,
    }
}

#[test]
fn bytes_written_by_v1_decode_under_v2_with_the_default() {
    let v1 = registry::version(EventKind::UploadRequested, 1).expect("v1 published");
    let old = UploadRequestedV1 {
        meta: MetaV1::of(&sample_meta()),
        caption: "sunset".into(),
        original_key: "originals/2".into(),
        format: ImageFormat::Png,
        byte_size: 1234,
    };
    let bytes = serde_avro_fast::to_single_object_vec(&old, &mut SerializerConfig::new(&v1.schema))
        .expect("v1 encodes");
    assert_eq!(fingerprint_of(&bytes).ok(), Some(v1.fingerprint));
    let decoded = decode(&bytes).expect("v1 bytes decode today");
    assert_eq!(
        decoded,
        Event::UploadRequested(UploadRequested {
            meta: sample_meta(),
            caption: "sunset".into(),
            original_key: "originals/2".into(),
            format: ImageFormat::Png,
            byte_size: 1234,
            original_filename: None,
        })
    );
}

/// Every field of a record schema and of the records nested in it, by
/// its path (`meta.request_id`).
fn fields_by_path(record: &serde_json::Value, prefix: &str, out: &mut Vec<(String, serde_json::Value)>) {
    for field in record["fields"].as_array().into_iter().flatten() {
        let path = format!("{prefix}{}", field["name"].as_str().unwrap_or_default());
        if field["type"]["type"] == "record" {
            fields_by_path(&field["type"], &format!("{path}."), out);
        }
        out.push((path, field.clone()));
    }
}

#[test]
fn every_field_added_by_a_later_version_has_a_default() {
    let all = registry::all().expect("registry");
    for newer in all.iter().filter(|p| p.version > 1) {
        let older = all
            .iter()
            .find(|p| p.kind == newer.kind && p.version == newer.version - 1)
            .expect("versions are consecutive");
        let fields = |file: &str| -> Vec<(String, serde_json::Value)> {
            let path = format!("{}/avro/{file}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).expect("schema file readable");
            let json: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
            let mut out = Vec::new();
            fields_by_path(&json, "", &mut out);
            out
        };
        let old_paths: Vec<String> = fields(older.file).into_iter().map(|(path, _)| path).collect();
        for (path, field) in fields(newer.file) {
            if !old_paths.contains(&path) {
                assert!(
                    field.get("default").is_some(),
                    "{}: new field {path} has no default",
                    newer.file
                );
            }
        }
    }
}

#[test]
fn bytes_written_before_the_request_id_decode_with_none() {
    let event = CommentAdded {
        meta: sample_meta(),
        comment_id: Uuid::from_u128(9),
        content: "old".into(),
    };
    let old = CommentAddedV1 {
        meta: MetaV1::of(&event.meta),
        comment_id: event.comment_id,
        content: event.content.clone(),
    };
    let v1 = registry::version(EventKind::CommentAdded, 1).expect("v1");
    let bytes = serde_avro_fast::to_single_object_vec(&old, &mut SerializerConfig::new(&v1.schema))
        .expect("encodes as v1");
    let Event::CommentAdded(back) = decode(&bytes).expect("decodes") else {
        panic!("a comment")
    };
    assert_eq!(back.meta.request_id, None);
    let mut tagged = event.clone();
    tagged.meta.request_id = Some("req-1".into());
    let now = encode(&Event::CommentAdded(tagged.clone())).expect("encodes");
    assert_eq!(decode(&now).expect("decodes"), Event::CommentAdded(tagged));
}

#[test]
fn unknown_fingerprint_is_a_typed_error() {
    let mut bytes = encode(&Event::CommentDeleted(CommentDeleted {
        meta: sample_meta(),
        comment_id: Uuid::from_u128(3),
    }))
    .expect("encodes");
    bytes[2..10].copy_from_slice(&0xDEAD_BEEF_u64.to_le_bytes());
    assert!(matches!(
        decode(&bytes),
        Err(SchemaError::UnknownFingerprint(0xDEAD_BEEF))
    ));
}

#[test]
fn short_and_unmarked_messages_are_typed_errors() {
    assert!(matches!(
        decode(&[0xC3, 0x01, 1]),
        Err(SchemaError::Truncated { len: 3 })
    ));
    assert!(matches!(decode(&[0u8; 12]), Err(SchemaError::BadMarker)));
    let bytes = encode(&Event::ConversionFailed(ConversionFailed {
        meta: sample_meta(),
        reason: "corrupt png".into(),
    }))
    .expect("encodes");
    assert!(matches!(
        decode(&bytes[..bytes.len() - 3]),
        Err(SchemaError::Malformed { .. })
    ));
}

/// One message of every event kind: the seeds of the `decode_event` fuzz
/// target (`fuzz/seeds/decode_event/`). They must keep decoding as the
/// schemas evolve; `IMAGEGRAM_WRITE_FUZZ_SEEDS=1` writes them anew.
#[test]
fn fuzz_seeds_are_messages_of_every_event_kind() {
    let meta = sample_meta;
    let events = [
        Event::UploadRequested(UploadRequested {
            meta: meta(),
            caption: "sunset".into(),
            original_key: "originals/2".into(),
            format: ImageFormat::Jpeg,
            byte_size: 1234,
            original_filename: Some("a.jpg".into()),
        }),
        Event::ImageConverted(ImageConverted {
            meta: meta(),
            original_key: "originals/2".into(),
            image_key: "images/2.jpg".into(),
            width: 600,
            height: 600,
            byte_size: 5000,
        }),
        Event::ConversionFailed(ConversionFailed {
            meta: meta(),
            reason: "corrupt png".into(),
        }),
        Event::CommentAdded(CommentAdded {
            meta: meta(),
            comment_id: Uuid::from_u128(3),
            content: "what a sky".into(),
        }),
        Event::CommentDeleted(CommentDeleted {
            meta: meta(),
            comment_id: Uuid::from_u128(3),
        }),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/decode_event");
    let write = std::env::var_os("IMAGEGRAM_WRITE_FUZZ_SEEDS").is_some();
    for event in events {
        let path = dir.join(format!("{:?}.avro", event.kind()));
        if write {
            std::fs::create_dir_all(&dir).expect("seed dir");
            std::fs::write(&path, encode(&event).expect("encodes")).expect("seed written");
        }
        let seed = std::fs::read(&path).expect("a seed for every event kind");
        assert_eq!(decode(&seed).ok(), Some(event), "{}", path.display());
    }
}
