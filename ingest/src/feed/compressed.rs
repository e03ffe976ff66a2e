//! The content codings the gateway writes (gzip, br, zstd), at one level,
//! and the choice among them from `Accept-Encoding`. Feed pages are
//! compressed with these once per page (`pages.rs`); every other answer is
//! compressed by the router's `CompressionLayer`, which leaves a body it
//! finds compressed alone.

use std::io::Write;

use axum::http::{header, HeaderMap};

/// The level of every compressed answer, in each algorithm's own scale:
/// these pages, and the router's `CompressionLayer` for the rest.
pub(crate) const COMPRESSION_LEVEL: i32 = 4;

/// A content coding the gateway writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Coding {
    // In the order ties are broken, as tower-http's layer breaks them.
    Gzip,
    Brotli,
    Zstd,
}

impl Coding {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }

    pub(crate) fn compress(self, body: &[u8]) -> std::io::Result<Vec<u8>> {
        let level = COMPRESSION_LEVEL;
        match self {
            Coding::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level.unsigned_abs()));
                encoder.write_all(body)?;
                encoder.finish()
            }
            Coding::Brotli => {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: level,
                    ..Default::default()
                };
                let mut out = Vec::new();
                brotli::BrotliCompress(&mut &body[..], &mut out, &params)?;
                Ok(out)
            }
            Coding::Zstd => zstd::bulk::compress(body, level),
        }
    }
}

/// The coding to answer in, from `Accept-Encoding`: the highest q-value
/// above 0 among those written here, ties to zstd, then br, then gzip; none
/// for a client that sends no header or accepts none of them.
pub fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| {
            let mut parts = item.split(';');
            let coding = match parts.next()?.trim().to_ascii_lowercase().as_str() {
                "gzip" | "x-gzip" => Coding::Gzip,
                "br" => Coding::Brotli,
                "zstd" => Coding::Zstd,
                _ => return None,
            };
            let q = match parts
                .map(str::trim)
                .find_map(|p| p.strip_prefix("q=").or(p.strip_prefix("Q=")))
            {
                None => 1000,
                Some(q) => quality(q)?,
            };
            (q > 0).then_some((q, coding))
        })
        .max()
        .map(|(_, coding)| coding)
}

/// A q-value in thousandths: `1`, `0.5`, `0.125` (RFC 9110: at most three
/// decimals, at most 1).
fn quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Request headers with `Accept-Encoding: value`, for the tests here and
/// in `pages.rs`.
#[cfg(test)]
pub(crate) fn accepting(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = axum::http::HeaderValue::from_str(value) {
        headers.insert(header::ACCEPT_ENCODING, value);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_best_q_wins_and_ties_go_to_zstd_then_br() {
        assert_eq!(negotiate(&HeaderMap::new()), None);
        assert_eq!(negotiate(&accepting("gzip")), Some(Coding::Gzip));
        assert_eq!(
            negotiate(&accepting("gzip, deflate, br, zstd")),
            Some(Coding::Zstd)
        );
        assert_eq!(negotiate(&accepting("gzip, br")), Some(Coding::Brotli));
        assert_eq!(negotiate(&accepting("br;q=0.5, gzip")), Some(Coding::Gzip));
        assert_eq!(
            negotiate(&accepting("zstd;q=0, gzip;q=0.001")),
            Some(Coding::Gzip)
        );
        assert_eq!(negotiate(&accepting("identity, deflate")), None);
        assert_eq!(negotiate(&accepting("br;q=2, gzip;q=1.5")), None);
    }

    proptest! {
        #[test]
        fn any_header_is_read_without_panicking(value in "[ -~]{0,80}") {
            let _ = negotiate(&accepting(&value));
        }

        #[test]
        fn every_coding_reads_back_to_the_page(body in "[ -~]{0,2000}") {
            for coding in [Coding::Gzip, Coding::Brotli, Coding::Zstd] {
                let packed = coding.compress(body.as_bytes()).expect("compresses");
                let unpacked = match coding {
                    Coding::Gzip => {
                        let mut out = Vec::new();
                        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut out).expect("gunzip");
                        out
                    }
                    Coding::Brotli => {
                        let mut out = Vec::new();
                        brotli::BrotliDecompress(&mut &packed[..], &mut out).expect("unbrotli");
                        out
                    }
                    Coding::Zstd => zstd::bulk::decompress(&packed, 1 << 20).expect("unzstd"),
                };
                prop_assert_eq!(unpacked, body.as_bytes());
            }
        }
    }
}
