//! Every schema version ever published, looked up by its Rabin fingerprint.
//!
//! A version, once listed here, is never removed or edited: bytes written with
//! it may sit in a topic for years. To change an event, add a file
//! `<event>.vN.avsc` whose new fields have defaults, list it here, and point
//! [`current`] at it.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_avro_fast::Schema;

use crate::{EventKind, SchemaError};

/// One published schema version.
pub struct Published {
    pub kind: EventKind,
    pub version: u32,
    pub file: &'static str,
    pub schema: Schema,
    pub fingerprint: u64,
}

/// (kind, version, file name, schema text): the whole published history.
const HISTORY: &[(EventKind, u32, &str, &str)] = &[
    (
        EventKind::UploadRequested,
        1,
        "upload_requested.v1.avsc",
        include_str!("../avro/upload_requested.v1.avsc"),
    ),
    (
        EventKind::UploadRequested,
        2,
        "upload_requested.v2.avsc",
        include_str!("../avro/upload_requested.v2.avsc"),
    ),
    (
        EventKind::ImageConverted,
        1,
        "image_converted.v1.avsc",
        include_str!("../avro/image_converted.v1.avsc"),
    ),
    (
        EventKind::ConversionFailed,
        1,
        "conversion_failed.v1.avsc",
        include_str!("../avro/conversion_failed.v1.avsc"),
    ),
    (
        EventKind::CommentAdded,
        1,
        "comment_added.v1.avsc",
        include_str!("../avro/comment_added.v1.avsc"),
    ),
    (
        EventKind::CommentDeleted,
        1,
        "comment_deleted.v1.avsc",
        include_str!("../avro/comment_deleted.v1.avsc"),
    ),
    (
        EventKind::DeadLettered,
        1,
        "dead_lettered.v1.avsc",
        include_str!("../avro/dead_lettered.v1.avsc"),
    ),
    // Every event's meta gains `request_id`.
    (
        EventKind::UploadRequested,
        3,
        "upload_requested.v3.avsc",
        include_str!("../avro/upload_requested.v3.avsc"),
    ),
    (
        EventKind::ImageConverted,
        2,
        "image_converted.v2.avsc",
        include_str!("../avro/image_converted.v2.avsc"),
    ),
    (
        EventKind::ConversionFailed,
        2,
        "conversion_failed.v2.avsc",
        include_str!("../avro/conversion_failed.v2.avsc"),
    ),
    (
        EventKind::CommentAdded,
        2,
        "comment_added.v2.avsc",
        include_str!("../avro/comment_added.v2.avsc"),
    ),
    (
        EventKind::CommentDeleted,
        2,
        "comment_deleted.v2.avsc",
        include_str!("../avro/comment_deleted.v2.avsc"),
    ),
    (
        EventKind::DeadLettered,
        2,
        "dead_lettered.v2.avsc",
        include_str!("../avro/dead_lettered.v2.avsc"),
    ),
];

struct Registry {
    versions: Vec<Published>,
    by_fingerprint: HashMap<u64, usize>,
}

static REGISTRY: LazyLock<Result<Registry, SchemaError>> = LazyLock::new(load);

fn load() -> Result<Registry, SchemaError> {
    let mut versions = Vec::with_capacity(HISTORY.len());
    let mut by_fingerprint = HashMap::with_capacity(HISTORY.len());
    for &(kind, version, file, text) in HISTORY {
        let schema: Schema =
            text.parse()
                .map_err(|e: serde_avro_fast::schema::SchemaError| SchemaError::BadSchema {
                    file,
                    reason: e.to_string(),
                })?;
        let fingerprint = u64::from_le_bytes(*schema.rabin_fingerprint());
        by_fingerprint.insert(fingerprint, versions.len());
        versions.push(Published {
            kind,
            version,
            file,
            schema,
            fingerprint,
        });
    }
    Ok(Registry {
        versions,
        by_fingerprint,
    })
}

fn registry() -> Result<&'static Registry, SchemaError> {
    REGISTRY.as_ref().map_err(|e| match e {
        SchemaError::BadSchema { file, reason } => SchemaError::BadSchema {
            file,
            reason: reason.clone(),
        },
        other => SchemaError::BadSchema {
            file: "registry",
            reason: other.to_string(),
        },
    })
}

/// Every published version, oldest first.
pub fn all() -> Result<&'static [Published], SchemaError> {
    Ok(&registry()?.versions)
}

/// The version a fingerprint names, if it was ever published.
pub fn by_fingerprint(fingerprint: u64) -> Result<&'static Published, SchemaError> {
    let reg = registry()?;
    reg.by_fingerprint
        .get(&fingerprint)
        .map(|&i| &reg.versions[i])
        .ok_or(SchemaError::UnknownFingerprint(fingerprint))
}

/// The version new events of `kind` are written with: the newest one.
pub fn current(kind: EventKind) -> Result<&'static Published, SchemaError> {
    registry()?
        .versions
        .iter()
        .filter(|p| p.kind == kind)
        .max_by_key(|p| p.version)
        .ok_or(SchemaError::BadSchema {
            file: kind.name(),
            reason: "no published version".into(),
        })
}

/// A specific version, for tests and tools that write old versions on purpose.
pub fn version(kind: EventKind, version: u32) -> Result<&'static Published, SchemaError> {
    registry()?
        .versions
        .iter()
        .find(|p| p.kind == kind && p.version == version)
        .ok_or(SchemaError::BadSchema {
            file: kind.name(),
            reason: format!("no version {version}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_parses_and_fingerprints_are_unique() {
        let all = all().expect("registry loads");
        assert_eq!(all.len(), HISTORY.len());
        let mut seen = std::collections::HashSet::new();
        for p in all {
            assert!(seen.insert(p.fingerprint), "{} repeats a fingerprint", p.file);
        }
    }

    #[test]
    fn current_is_the_newest_version() {
        assert_eq!(
            current(EventKind::UploadRequested).map(|p| p.version).ok(),
            Some(3)
        );
        assert_eq!(current(EventKind::CommentAdded).map(|p| p.version).ok(), Some(2));
    }
}
