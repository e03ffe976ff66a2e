//! Routes and middleware: body limits, timeouts, tracing, problems.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::TraceLayer;

use crate::auth::bearer_token;
use crate::health::{healthz, readyz};
use crate::rate_limit::Reader;
use crate::state::AppState;
use crate::upload_stream::MAX_IMAGE_BYTES;
use crate::{admin, comments, events, feed, legacy, openapi, posts, problem, reads, tus, IngestError};

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
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/events", get(events::events))
        .route("/v1/admin/rebuild", post(admin::rebuild))
        .route("/openapi.json", get(openapi::openapi_json))
        .layer(RequestBodyLimitLayer::new(SMALL_BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));
    uploads
        .merge(rest)
        .fallback(problem::no_such_route)
        .layer(RequestBodyTimeoutLayer::new(body_idle))
        .layer(axum::middleware::map_response(problem::as_problem))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
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
