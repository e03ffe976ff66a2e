//! Routes and middleware: body limits, timeouts, tracing, problems,
//! compression.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::compression::{CompressionLayer, CompressionLevel};

use crate::feed::compressed::COMPRESSION_LEVEL;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{bearer_token, dev};
use crate::health::{healthz, readyz};
use crate::rate_limit::Reader;
use crate::state::AppState;
use crate::upload_stream::MAX_IMAGE_BYTES;
use crate::{
    admin, comments, events, feed, legacy, openapi, posts, problem, reads, request_id, tus, web, IngestError,
};

/// Room for the multipart framing and the caption around a largest image.
const UPLOAD_BODY_LIMIT: usize = MAX_IMAGE_BYTES as usize + 1024 * 1024;
/// Every other body: a JSON comment is at most a few KiB.
const SMALL_BODY_LIMIT: usize = 64 * 1024;

/// Every route of the gateway; a request body that sends nothing for
/// `body_idle` fails, so a stalled upload cannot hold a file or an S3
/// multipart upload open.
pub fn router(state: AppState, body_idle: Duration) -> Router {
    let uploads = Router::new()
        .route("/v1/posts", post(posts::create_post))
        .route("/v1/uploads", post(tus::create).options(tus::options))
        .route(
            "/v1/uploads/{id}",
            axum::routing::head(tus::head)
                .patch(tus::patch)
                .delete(tus::delete),
        )
        .route("/image/upload", post(legacy::upload))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(UPLOAD_BODY_LIMIT));
    let reads = Router::new()
        .route("/v1/posts", get(feed::feed))
        .route("/v1/posts/{id}", get(reads::get_post))
        .route("/v1/images/{file}", get(reads::get_image))
        .route("/post", get(legacy::old_feed))
        .route("/post/", get(legacy::old_feed))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), limit_reads));
    let rest = Router::new()
        .merge(reads)
        .route("/v1/posts/{id}/comments", post(comments::add_comment))
        .route(
            "/v1/posts/{id}/comments/{comment_id}",
            delete(comments::delete_comment),
        )
        .route("/comment", post(legacy::comment))
        .route("/", get(web::page))
        .route("/web/{*file}", get(web::asset))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/events", get(events::events))
        .route("/v1/admin/rebuild", post(admin::rebuild))
        .route("/v1/dev/sign-in", get(dev::available).post(dev::sign_in))
        .route("/v1/admin/replay", get(admin::replay))
        .route("/v1/admin/status", get(admin::status))
        .route("/v1/admin/dead-letters", get(admin::dead_letters))
        .route("/openapi.json", get(openapi::openapi_json))
        .layer(RequestBodyLimitLayer::new(SMALL_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));
    // The last layer is the outermost: a request meets the id first, so
    // the span, the metrics and every log line below can name it.
    uploads
        .merge(rest)
        .fallback(problem::no_such_route)
        .layer(RequestBodyTimeoutLayer::new(body_idle))
        .layer(axum::middleware::map_response(problem::as_problem))
        .layer(compression())
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(axum::middleware::from_fn(request_id::in_scope))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(HeaderName::from_static(
            request_id::HEADER,
        )))
        .layer(SetRequestIdLayer::new(
            HeaderName::from_static(request_id::HEADER),
            MakeRequestUuid,
        ))
        .layer(axum::middleware::from_fn(request_id::drop_insane))
        .with_state(state)
}

/// Answers compressed as the client accepts (zstd, br, gzip; none when it
/// sends no `Accept-Encoding`), with `Vary: Accept-Encoding`. tower-http's
/// default predicate leaves out images (the served JPEGs), server-sent
/// events and bodies under 32 bytes (tus answers have none), and it leaves
/// alone the feed's pages, compressed already where they are made. Level 4 for
/// every algorithm: brotli's own default (11) takes milliseconds for one
/// feed page; at 4 it compresses a page in well under one.
fn compression() -> CompressionLayer {
    CompressionLayer::new().quality(CompressionLevel::Precise(COMPRESSION_LEVEL))
}

/// The span of a request: every log line within names its id. At the
/// error level, so that it is on whenever any line is (with a filter of
/// `warn`, an info span would be off and a warning would lose its id).
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request_id::of(request).unwrap_or_default();
    tracing::error_span!("request", method = %request.method(), uri = %request.uri().path(), request_id = %id)
}

/// Counts a read against its user (with a valid token) or its client's
/// address (without one); over the limit, the 429 instead of the read.
/// A page another gateway forwarded was counted there, so it is not here.
async fn limit_reads(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path_and_query().map_or("", |p| p.as_str());
    if state.peers.is_hop(request.headers(), path) {
        return next.run(request).await;
    }
    let user = match bearer_token(request.headers()) {
        Some(token) => state.auth.verify(token).await,
        None => None,
    };
    let reader = match user {
        Some(user) => Some(Reader::User(user)),
        None => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip());
            state
                .limits
                .client_address(request.headers(), peer)
                .map(Reader::Address)
        }
    };
    if let Some(Err(problem)) = reader.map(|reader| state.limits.read(&reader)) {
        return problem.into_response();
    }
    next.run(request).await
}

/// Binds the gateway's address (port 0 picks a free one).
pub async fn bind(addr: &str) -> Result<TcpListener, IngestError> {
    TcpListener::bind(addr).await.map_err(|source| IngestError::Bind {
        addr: addr.to_owned(),
        source,
    })
}
