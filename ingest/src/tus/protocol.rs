//! The tus 1.0 headers, parsed and checked without I/O: versions,
//! lengths, offsets, `Upload-Metadata` and `Upload-Checksum`.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode};
use base64::Engine;

use crate::upload_stream::MAX_IMAGE_BYTES;
use crate::Problem;

pub const VERSION: &str = "1.0.0";
pub const EXTENSIONS: &str =
    "creation,creation-with-upload,creation-defer-length,termination,checksum,expiration";
pub const CHECKSUMS: &str = "sha1,sha256";
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";
/// How long an unfinished upload is kept after its last change.
pub const LIFETIME_SECS: i64 = 24 * 3600;
/// Most bytes of `Upload-Metadata`.
const MAX_METADATA: usize = 4 * 1024;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn bad(kind: &str, detail: impl Into<String>) -> Problem {
    Problem::client(StatusCode::BAD_REQUEST, kind, detail)
}

/// Every request but OPTIONS names the protocol version it speaks.
pub fn check_version(headers: &HeaderMap) -> Result<(), Problem> {
    match header(headers, "tus-resumable") {
        Some(VERSION) => Ok(()),
        _ => Err(Problem::client(
            StatusCode::PRECONDITION_FAILED,
            "tus-version",
            format!("Tus-Resumable must be {VERSION}"),
        )),
    }
}

fn number(headers: &HeaderMap, name: &str) -> Result<Option<u64>, Problem> {
    match header(headers, name) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| bad("bad-header", format!("{name} must be a non-negative integer"))),
    }
}

/// The declared length at creation: `Some(n)`, or `None` when deferred.
pub fn creation_length(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let length = number(headers, "upload-length")?;
    let deferred = header(headers, "upload-defer-length");
    match (length, deferred) {
        (Some(_), Some(_)) => Err(bad(
            "bad-header",
            "send Upload-Length or Upload-Defer-Length, not both",
        )),
        (None, Some("1")) => Ok(None),
        (None, _) => Err(bad(
            "bad-header",
            "Upload-Length (or Upload-Defer-Length: 1) is required",
        )),
        (Some(n), None) => within_limit(n).map(Some),
    }
}

/// A length the client sets on a later PATCH, once it knows it.
pub fn late_length(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    number(headers, "upload-length")?.map(within_limit).transpose()
}

fn within_limit(length: u64) -> Result<u64, Problem> {
    if length > MAX_IMAGE_BYTES {
        return Err(Problem::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "upload-too-large",
            format!("uploads are at most {MAX_IMAGE_BYTES} bytes"),
        ));
    }
    Ok(length)
}

/// The offset a PATCH says it starts at.
pub fn patch_offset(headers: &HeaderMap) -> Result<u64, Problem> {
    number(headers, "upload-offset")?.ok_or_else(|| bad("bad-header", "Upload-Offset is required"))
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (the value
/// may be absent). Keys are unique; values must be UTF-8 for the keys we read.
pub fn parse_metadata(text: &str) -> Result<BTreeMap<String, Vec<u8>>, Problem> {
    if text.len() > MAX_METADATA {
        return Err(bad(
            "bad-metadata",
            format!("Upload-Metadata is longer than {MAX_METADATA} bytes"),
        ));
    }
    let mut pairs = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.splitn(2, ' ');
        let key = parts.next().unwrap_or_default();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad(
                "bad-metadata",
                "metadata keys are non-empty ASCII without spaces",
            ));
        }
        let value = match parts.next() {
            Some(v) => base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .map_err(|_| bad("bad-metadata", format!("the value of {key} is not base64")))?,
            None => Vec::new(),
        };
        if pairs.insert(key.to_owned(), value).is_some() {
            return Err(bad("bad-metadata", format!("metadata key {key} appears twice")));
        }
    }
    Ok(pairs)
}

/// A metadata value as text.
pub fn text_value(pairs: &BTreeMap<String, Vec<u8>>, key: &str) -> Result<Option<String>, Problem> {
    pairs
        .get(key)
        .map(|v| String::from_utf8(v.clone()).map_err(|_| bad("bad-metadata", format!("{key} is not UTF-8"))))
        .transpose()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
}

/// `Upload-Checksum: <algorithm> <base64 digest>`.
pub fn parse_checksum(headers: &HeaderMap) -> Result<Option<(Algorithm, Vec<u8>)>, Problem> {
    let Some(value) = header(headers, "upload-checksum") else {
        return Ok(None);
    };
    let (name, digest) = value
        .split_once(' ')
        .ok_or_else(|| bad("bad-checksum", "Upload-Checksum is `<algorithm> <base64 digest>`"))?;
    let (algorithm, len) = match name {
        "sha1" => (Algorithm::Sha1, 20),
        "sha256" => (Algorithm::Sha256, 32),
        _ => {
            return Err(bad(
                "unsupported-checksum",
                format!("checksum algorithms: {CHECKSUMS}"),
            ))
        }
    };
    let digest = base64::engine::general_purpose::STANDARD
        .decode(digest.trim())
        .ok()
        .filter(|d| d.len() == len)
        .ok_or_else(|| {
            bad(
                "bad-checksum",
                "the checksum is not a base64 digest of the right length",
            )
        })?;
    Ok(Some((algorithm, digest)))
}

/// `Upload-Expires` (RFC 7231) for microseconds since the epoch.
pub fn http_date(micros: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros.max(0) as u64);
    httpdate::fmt_http_date(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                *k,
                v.parse()
                    .unwrap_or_else(|_| axum::http::HeaderValue::from_static("")),
            );
        }
        h
    }

    #[test]
    fn lengths_are_declared_or_deferred_and_bounded() {
        assert_eq!(
            creation_length(&headers(&[("upload-length", "10")])).ok(),
            Some(Some(10))
        );
        assert_eq!(
            creation_length(&headers(&[("upload-defer-length", "1")])).ok(),
            Some(None)
        );
        assert!(creation_length(&headers(&[])).is_err());
        let too_large = creation_length(&headers(&[("upload-length", "104857601")])).err();
        assert_eq!(too_large.map(|p| p.status), Some(413));
        assert!(creation_length(&headers(&[("upload-length", "-1")])).is_err());
    }

    #[test]
    fn metadata_pairs_decode() {
        let pairs = parse_metadata("caption U3Vuc2V0,filename cGhvdG8ucG5n,flag").expect("parses");
        assert_eq!(
            text_value(&pairs, "caption").ok().flatten().as_deref(),
            Some("Sunset")
        );
        assert_eq!(pairs["flag"], Vec::<u8>::new());
        assert!(parse_metadata("caption !!!").is_err());
        assert!(parse_metadata("a YQ==,a Yg==").is_err());
    }

    #[test]
    fn checksums_name_a_known_algorithm_and_a_digest() {
        let sha1 = "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=";
        assert_eq!(
            parse_checksum(&headers(&[("upload-checksum", sha1)]))
                .ok()
                .flatten()
                .map(|c| c.0),
            Some(Algorithm::Sha1)
        );
        assert!(parse_checksum(&headers(&[("upload-checksum", "md5 AAAA")])).is_err());
        assert!(parse_checksum(&headers(&[("upload-checksum", "sha1 AAAA")])).is_err());
        assert_eq!(parse_checksum(&headers(&[])).ok(), Some(None));
    }

    proptest! {
        #[test]
        fn metadata_never_panics(text in ".{0,300}") {
            let _ = parse_metadata(&text);
        }

        #[test]
        fn metadata_round_trips(values in proptest::collection::btree_map("[a-z]{1,8}", proptest::collection::vec(any::<u8>(), 0..40), 0..6)) {
            let text: Vec<String> = values.iter().map(|(k, v)| format!("{k} {}", base64::engine::general_purpose::STANDARD.encode(v))).collect();
            let parsed = parse_metadata(&text.join(","));
            prop_assert_eq!(parsed.ok(), Some(values));
        }
    }
}
