use thiserror::Error;

/// Everything that can go wrong turning events into bytes and back.
#[derive(Debug, Error)]
pub enum SchemaError {
    /// The message is shorter than the 10-byte single-object header.
    #[error("message is {len} bytes, shorter than the 10-byte single-object header")]
    Truncated { len: usize },
    /// The first two bytes are not the single-object marker `C3 01`.
    #[error("message does not start with the Avro single-object marker C3 01")]
    BadMarker,
    /// No published schema has this fingerprint.
    #[error("unknown writer schema fingerprint {0:016x}")]
    UnknownFingerprint(u64),
    /// The header was fine but the datum did not decode under its writer schema.
    #[error("{kind} datum does not decode under its writer schema v{version}: {reason}")]
    Malformed {
        kind: &'static str,
        version: u32,
        reason: String,
    },
    /// The event could not be written with the current schema (a bug, not bad input).
    #[error("{kind} could not be encoded: {reason}")]
    Encode { kind: &'static str, reason: String },
    /// A schema file in the registry does not parse (caught by the registry tests).
    #[error("schema {file} does not parse: {reason}")]
    BadSchema { file: &'static str, reason: String },
}
