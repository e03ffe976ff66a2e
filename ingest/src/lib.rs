//! # imagegram-ingest
//!
//! The ingest gateway: the HTTP front door. It checks each request, streams
//! image bytes to the blob store, appends the event to the log and answers.
//! It never writes read tables; projections build them from the log. It
//! reads them, to refuse comments on posts that are not published and
//! deletes of comments that are not yours, and to answer the simple reads.
//!
//! ## Layout
//! - `gateway.rs`: [`Gateway::build`] from ports and settings, used by the
//!   binary and by in-process tests of the router.
//! - `state.rs`: [`AppState`], what every handler can reach (imports no handler).
//! - `server.rs`: routes, body limits, timeouts, tracing;
//!   `connections.rs`: the accept loop, its connection cap, head size cap
//!   and header read timeout, and the graceful drain.
//! - `auth/`: bearer tokens (HS256 with the shared secret, RS256/ES256
//!   from an identity provider's JWKS), the `User` extractor, the secret file.
//! - `publish/`: from a validated request to events: a post (`post.rs`),
//!   a comment (`comment.rs`), appending, awaiting a post's outcome. It
//!   returns outcomes; the handlers below translate them to HTTP.
//! - `posts.rs` and `upload_stream.rs`: `POST /v1/posts` from streamed uploads;
//!   `post_answer.rs`: the answer to any request that made a post (202, or
//!   with `?wait=` its outcome), for multipart and tus alike.
//! - `comments.rs`: adding and deleting comments.
//! - `idempotency/`: the one guard of keyed requests: claim under a
//!   lease, work that runs to its end, replay or conflict, and the
//!   gateway's memory of held claims and unrecorded answers;
//!   `run_to_end.rs`: a future finished in the background if its request
//!   is dropped.
//! - `orphans.rs`: the sweep of staged images, upload chunks and writes
//!   nothing refers to any more.
//! - `quotas.rs`: open uploads and daily bytes per user; pruning of old
//!   idempotency keys and processed marks.
//! - `rate_limit.rs`: token buckets per user (writes) and per address
//!   (anonymous reads); 429 with `Retry-After` and `RateLimit` fields.
//! - `consistency.rs`: read your own writes: a write's log position as a
//!   token, and reads that wait for the read model to apply it.
//! - `notifications.rs`: what each user is told, followed from the log;
//!   `events.rs` streams it as Server-Sent Events (`GET /v1/events`), and
//!   `?wait=` on uploads waits on it.
//! - `feed/`: `GET /v1/posts`, paged over ranking snapshots (`mod.rs`),
//!   its signed cursors (`cursor.rs`), its items rendered once per post
//!   version (`rendered.rs`), whole pages kept by feed version and
//!   compressed once each (`pages.rs`, with the codings of
//!   `compressed.rs`), pages of another gateway's snapshot forwarded to
//!   it (`peers.rs`, over the gateway directory).
//! - `reads.rs`: a post and its image.
//! - `tus/`: resumable uploads (tus 1.0): `protocol.rs` (headers, pure),
//!   `append.rs` (a PATCH's bytes), `chunks.rs` (bytes in place or as
//!   chunk objects), `turns.rs` (one writer at a time per upload written
//!   in place), `posting.rs` (the post from a finished upload),
//!   `sweep.rs` (expiration), `mod.rs` (routes).
//! - `legacy.rs`: the original system's routes (upload, comment, feed).
//! - `admin/`: operator actions and reads for the CLI when this process
//!   holds the log: rebuild, replay, status, dead letters (operator token).
//! - `views.rs`: JSON shapes; `openapi.rs`: `/openapi.json`.
//! - `web.rs`: the web client at `/`, its files (`ingest/web/`) built in.
//! - `request_id.rs`: `x-request-id` on every answer, in every log line
//!   of the request and on the events it appends; `metrics.rs`: what the
//!   gateway counts for `GET /metrics`.
//! - `health.rs`: `/healthz`, `/readyz`; `problem.rs`: problem+json errors,
//!   every error answer made one.
//! - `json_body.rs`: the JSON body extractor; its rejections are problems.
//! - `error.rs`: [`IngestError`], this crate's one error type, with its
//!   retry hint; `problem.rs` turns it into the answer, in one place.

mod admin;
mod auth;
mod comments;
mod connections;
mod consistency;
mod error;
mod events;
mod feed;
mod gateway;
mod health;
mod idempotency;
mod json_body;
mod legacy;
mod metrics;
mod notifications;
mod openapi;
mod orphans;
mod post_answer;
mod posts;
mod problem;
mod publish;
mod quotas;
mod rate_limit;
mod reads;
mod request_id;
mod run_to_end;
mod server;
mod state;
pub mod tus;
mod upload_stream;
mod views;
mod web;

pub use auth::{load_or_create_secret, Auth, IdentityProvider, MIN_SECRET_BYTES};
pub use connections::{
    connection_bytes, serve as serve_router, ConnectionLimits, DEFAULT_CONNECTION_MEMORY, DEFAULT_HEAD_BYTES,
    MIN_HEAD_BYTES,
};
pub use error::IngestError;
pub use feed::{CursorSigner, RenderedItems};
pub use gateway::{Gateway, GatewaySettings, Ports};
pub use health::Probe;
pub use metrics::describe as describe_metrics;
pub use notifications::Notifications;
pub use problem::Problem;
pub use quotas::Quotas;
pub use rate_limit::RateSettings;
pub use server::{bind, router};
pub use state::AppState;

/// Entry points for the fuzz targets in `fuzz/` (built with `--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod fuzzing {
    use std::sync::{Arc, OnceLock};

    use axum::extract::{FromRequest, Multipart};
    use imagegram_blobstore::BlobStore;

    /// Parses `body` as `POST /v1/posts` would (multipart with the
    /// boundary `fuzz`), streaming the image part to a file store on
    /// tmpfs; every failure must be a problem, never a panic.
    pub async fn receive_multipart(body: Vec<u8>) {
        static BLOBS: OnceLock<Option<Arc<dyn BlobStore>>> = OnceLock::new();
        let blobs = BLOBS.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("imagegram-fuzz-{}", std::process::id()));
            let store = imagegram_blobstore::files::FileStore::open(&dir).ok()?;
            Some(Arc::new(store) as Arc<dyn BlobStore>)
        });
        let Some(blobs) = blobs else { return };
        let request = axum::http::Request::post("/v1/posts")
            .header("content-type", "multipart/form-data; boundary=fuzz")
            .body(axum::body::Body::from(body));
        let Ok(request) = request else { return };
        let Ok(mut multipart) = Multipart::from_request(request, &()).await else {
            return;
        };
        let landing = "staging/fuzz";
        if crate::posts::receive(blobs, &mut multipart, landing, "image", true)
            .await
            .is_ok()
        {
            let _ = blobs.delete(landing).await;
        }
    }

    /// The tus headers a client controls: `Upload-Metadata` and
    /// `Upload-Checksum`, and the numbers.
    pub fn tus_headers(value: &[u8]) {
        let text = String::from_utf8_lossy(value);
        if let Ok(pairs) = crate::tus::protocol::parse_metadata(&text) {
            let _ = crate::tus::protocol::text_value(&pairs, "caption");
        }
        let Ok(header) = axum::http::HeaderValue::from_bytes(value) else {
            return;
        };
        let mut headers = axum::http::HeaderMap::new();
        for name in [
            "upload-checksum",
            "upload-length",
            "upload-offset",
            "upload-metadata",
        ] {
            headers.insert(name, header.clone());
        }
        let _ = crate::tus::protocol::parse_checksum(&headers);
        let _ = crate::tus::protocol::creation_length(&headers);
        let _ = crate::tus::protocol::patch_offset(&headers);
    }
}
