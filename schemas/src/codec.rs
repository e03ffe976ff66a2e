//! Avro single-object encoding of [`Event`]s: `C3 01`, the writer schema's
//! 8-byte little-endian Rabin fingerprint, then the Avro datum.
//!
//! Decoding reads the datum with the *writer's* schema, found by fingerprint in
//! the registry; fields that a later version added and an older writer lacks
//! take their `#[serde(default)]`, fields the reader no longer knows are skipped.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_avro_fast::ser::SerializerConfig;

use crate::registry::{self, Published};
use crate::{Event, EventKind, SchemaError};

const MARKER: [u8; 2] = [0xC3, 0x01];
const HEADER_LEN: usize = 10;

/// Encode an event with the current schema of its kind.
pub fn encode(event: &Event) -> Result<Vec<u8>, SchemaError> {
    let published = registry::current(event.kind())?;
    match event {
        Event::UploadRequested(e) => encode_with(e, published),
        Event::ImageConverted(e) => encode_with(e, published),
        Event::ConversionFailed(e) => encode_with(e, published),
        Event::CommentAdded(e) => encode_with(e, published),
        Event::CommentDeleted(e) => encode_with(e, published),
        Event::DeadLettered(e) => encode_with(e, published),
    }
}

/// Encode any serialisable value with a given published schema version.
pub(crate) fn encode_with<T: Serialize>(value: &T, published: &Published) -> Result<Vec<u8>, SchemaError> {
    let mut config = SerializerConfig::new(&published.schema);
    serde_avro_fast::to_single_object_vec(value, &mut config).map_err(|e| SchemaError::Encode {
        kind: published.kind.name(),
        reason: e.to_string(),
    })
}

/// The writer-schema fingerprint a message names, after checking its header.
pub fn fingerprint_of(bytes: &[u8]) -> Result<u64, SchemaError> {
    let header: &[u8; HEADER_LEN] = bytes
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(SchemaError::Truncated { len: bytes.len() })?;
    if header[..2] != MARKER {
        return Err(SchemaError::BadMarker);
    }
    let mut fp = [0u8; 8];
    fp.copy_from_slice(&header[2..]);
    Ok(u64::from_le_bytes(fp))
}

/// Decode a message written with any published schema version.
pub fn decode(bytes: &[u8]) -> Result<Event, SchemaError> {
    let published = registry::by_fingerprint(fingerprint_of(bytes)?)?;
    let datum = &bytes[HEADER_LEN..];
    Ok(match published.kind {
        EventKind::UploadRequested => Event::UploadRequested(datum_as(datum, published)?),
        EventKind::ImageConverted => Event::ImageConverted(datum_as(datum, published)?),
        EventKind::ConversionFailed => Event::ConversionFailed(datum_as(datum, published)?),
        EventKind::CommentAdded => Event::CommentAdded(datum_as(datum, published)?),
        EventKind::CommentDeleted => Event::CommentDeleted(datum_as(datum, published)?),
        EventKind::DeadLettered => Event::DeadLettered(datum_as(datum, published)?),
    })
}

fn datum_as<T: DeserializeOwned>(datum: &[u8], published: &Published) -> Result<T, SchemaError> {
    serde_avro_fast::from_datum_slice(datum, &published.schema).map_err(|e| SchemaError::Malformed {
        kind: published.kind.name(),
        version: published.version,
        reason: e.to_string(),
    })
}
