//! The web client, served from files built into the binary (`ingest/web/`):
//! `/` is its page, `/web/*` its script, styles, icon and the vendored
//! tus-js-client. Every answer forbids loading anything from elsewhere
//! (Content-Security-Policy), and is revalidated by its ETag.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::Problem;

/// Scripts, styles, images and requests from this origin only; no frames.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $kind:literal) => {
        Asset {
            path: $path,
            content_type: $kind,
            bytes: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $file)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "index.html", "text/html; charset=utf-8"),
    asset!("app.js", "app.js", "text/javascript; charset=utf-8"),
    asset!("style.css", "style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "icon.svg", "image/svg+xml"),
    asset!(
        "vendor/tus.min.js",
        "vendor/tus.min.js",
        "text/javascript; charset=utf-8"
    ),
];

/// Each asset's ETag: a hash of its bytes, made once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", hex::encode(&Sha256::digest(a.bytes)[..12])))
        .collect()
});

fn serve(name: &str, headers: &HeaderMap) -> Option<Response> {
    let index = ASSETS.iter().position(|a| a.path == name)?;
    let (asset, etag) = (&ASSETS[index], &ETAGS[index]);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    let fields = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(etag) {
        fields.insert(header::ETAG, etag);
    }
    fields.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    fields.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    fields.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    fields.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Some(response)
}

/// The web client's page.
pub async fn page(headers: HeaderMap) -> Response {
    serve("index.html", &headers).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// One of the web client's files.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, Problem> {
    serve(&name, &headers)
        .ok_or_else(|| Problem::client(StatusCode::NOT_FOUND, "not-found", "there is no such file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_there_and_pages_load_nothing_from_elsewhere() {
        for asset in ASSETS {
            assert!(!asset.bytes.is_empty(), "{}", asset.path);
        }
        let page = std::str::from_utf8(ASSETS[0].bytes).expect("utf-8");
        for reference in ["/web/app.js", "/web/style.css", "/web/vendor/tus.min.js"] {
            assert!(page.contains(reference), "{reference}");
        }
        let ours = [ASSETS[0].bytes, ASSETS[1].bytes, ASSETS[2].bytes];
        for text in ours.map(String::from_utf8_lossy) {
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "no address elsewhere"
            );
        }
    }

    #[test]
    fn an_unchanged_asset_is_not_sent_again() {
        let mut headers = HeaderMap::new();
        let first = serve("app.js", &headers).expect("served");
        let etag = first.headers()[header::ETAG].clone();
        headers.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            serve("app.js", &headers).map(|r| r.status()),
            Some(StatusCode::NOT_MODIFIED)
        );
        assert!(serve("../Cargo.toml", &HeaderMap::new()).is_none());
    }
}
