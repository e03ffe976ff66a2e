//! Resumable uploads: tus 1.0 at `/v1/uploads` — core, creation,
//! creation-with-upload, creation-defer-length, termination, checksum
//! (sha1, sha256) and expiration. An upload belongs to its creator; anyone
//! else gets 404. State lives in the read database and bytes in the blob
//! store, so any gateway instance resumes any upload, across restarts.
//! When the last byte arrives the post is made exactly as a multipart
//! upload makes it (magic bytes, `UploadRequested`, idempotency by the
//! upload's id) if the metadata carried a `caption`; otherwise
//! `POST /v1/posts {"upload_id", "caption"}` makes it.

mod append;
mod chunks;
pub mod posting;
pub mod protocol;
mod sweep;
mod turns;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use imagegram_readstore::Upload;
use uuid::Uuid;

use crate::auth::User;
use crate::publish;
use crate::quotas;
use crate::rate_limit::Action;
use crate::state::AppState;
use crate::upload_stream::MAX_IMAGE_BYTES;
use crate::Problem;
use append::append;
use protocol::{OFFSET_OCTET_STREAM, VERSION};

pub use sweep::{start as start_sweep, sweep_expired};
use turns::Turn;
pub use turns::UploadTurns;

/// The header that names the post made from a finished upload.
pub const POST_HEADER: &str = "imagegram-post";

fn with_headers(status: StatusCode, pairs: Vec<(&'static str, String)>) -> Response {
    let mut response = status.into_response();
    let headers = response.headers_mut();
    headers.insert("tus-resumable", HeaderValue::from_static(VERSION));
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

/// What the server supports.
#[utoipa::path(options, path = "/v1/uploads", tag = "uploads", responses((status = 204, description = "Tus-Version, Tus-Max-Size, Tus-Extension, Tus-Checksum-Algorithm")))]
pub async fn options() -> Response {
    with_headers(
        StatusCode::NO_CONTENT,
        vec![
            ("tus-version", VERSION.to_owned()),
            ("tus-max-size", MAX_IMAGE_BYTES.to_string()),
            ("tus-extension", protocol::EXTENSIONS.to_owned()),
            ("tus-checksum-algorithm", protocol::CHECKSUMS.to_owned()),
        ],
    )
}

/// The caller's upload, or 404 (someone else's looks the same as none);
/// 412 first if the request does not speak tus 1.0.
async fn owned(state: &AppState, user: &str, headers: &HeaderMap, id: Uuid) -> Result<Upload, Problem> {
    protocol::check_version(headers)?;
    match state.uploads.upload(id).await? {
        Some(upload) if upload.owner == user && upload.expires_at > imagegram_schemas::now_us() => Ok(upload),
        _ => Err(Problem::client(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such upload",
        )),
    }
}

/// The caller's upload as [`owned`] finds it, read once this request
/// has its turn on it, so no other request of this process moves it until
/// the turn is dropped.
async fn owned_in_turn(
    state: &AppState,
    user: &str,
    headers: &HeaderMap,
    id: Uuid,
) -> Result<(Upload, Turn), Problem> {
    let turn = state.upload_turns.take(id).await;
    Ok((owned(state, user, headers, id).await?, turn))
}

fn expiry() -> i64 {
    imagegram_schemas::now_us() + protocol::LIFETIME_SECS * 1_000_000
}

/// Start an upload (tus creation), optionally with its first bytes.
#[utoipa::path(post, path = "/v1/uploads", tag = "uploads", security(("bearer" = [])),
    responses((status = 201, description = "Location of the upload; Upload-Offset when bytes came along"),
        (status = 400, description = "bad headers or metadata", content_type = "application/problem+json"),
        (status = 412, description = "Tus-Resumable is not 1.0.0", content_type = "application/problem+json"),
        (status = 413, description = "Upload-Length above Tus-Max-Size", content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    User(user): User,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    state.limits.user(Action::Upload, &user)?;
    protocol::check_version(&headers)?;
    let length = protocol::creation_length(&headers)?;
    quotas::check_open_uploads(&state, &user).await?;
    quotas::check_daily_bytes(&state, &user, length.unwrap_or(0)).await?;
    let metadata = headers
        .get("upload-metadata")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let pairs = protocol::parse_metadata(&metadata)?;
    if let Some(caption) = protocol::text_value(&pairs, "caption")? {
        publish::check_caption(&caption)
            .map_err(|why| Problem::client(StatusCode::BAD_REQUEST, "bad-metadata", why))?;
    }
    let upload = Upload {
        id: Uuid::new_v4(),
        owner: user.clone(),
        length,
        offset: 0,
        metadata,
        created_at: imagegram_schemas::now_us(),
        expires_at: expiry(),
        post_id: None,
        first_part: None,
    };
    state.uploads.create_upload(&upload).await?;
    let location = format!("/v1/uploads/{}", upload.id);
    let with_body = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == OFFSET_OCTET_STREAM);
    let (status, mut extra) = if with_body {
        let turn = state.upload_turns.take(upload.id).await;
        let (_, extra) = append(&state, &user, (upload, turn), &headers, body).await?;
        (StatusCode::CREATED, extra)
    } else {
        (
            StatusCode::CREATED,
            vec![("upload-expires", protocol::http_date(expiry()))],
        )
    };
    extra.push(("location", location));
    Ok(with_headers(status, extra))
}

/// How far an upload got.
#[utoipa::path(head, path = "/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "upload id")),
    responses((status = 200, description = "Upload-Offset, Upload-Length (or Upload-Defer-Length), Upload-Metadata, Upload-Expires"), (status = 404, description = "no such upload of yours")))]
pub async fn head(
    State(state): State<AppState>,
    User(user): User,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response, Problem> {
    let upload = owned(&state, &user, &headers, id).await?;
    let mut pairs = vec![
        ("upload-offset", upload.offset.to_string()),
        ("upload-expires", protocol::http_date(upload.expires_at)),
        ("cache-control", "no-store".to_owned()),
    ];
    match upload.length {
        Some(length) => pairs.push(("upload-length", length.to_string())),
        None => pairs.push(("upload-defer-length", "1".to_owned())),
    }
    if !upload.metadata.is_empty() {
        pairs.push(("upload-metadata", upload.metadata.clone()));
    }
    if let Some(post) = upload.post_id {
        pairs.push((POST_HEADER, format!("/v1/posts/{post}")));
    }
    Ok(with_headers(StatusCode::OK, pairs))
}

/// Send bytes from `Upload-Offset` on.
#[utoipa::path(patch, path = "/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "upload id")),
    request_body(content_type = "application/offset+octet-stream"),
    responses((status = 204, description = "the new Upload-Offset; on the last bytes also Imagegram-Post: /v1/posts/{id}"),
        (status = 409, description = "Upload-Offset is not where the upload stands", content_type = "application/problem+json"),
        (status = 415, description = "not application/offset+octet-stream", content_type = "application/problem+json"),
        (status = 460, description = "the bytes do not match Upload-Checksum", content_type = "application/problem+json")))]
pub async fn patch(
    State(state): State<AppState>,
    User(user): User,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let upload = owned_in_turn(&state, &user, &headers, id).await?;
    if headers
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v != OFFSET_OCTET_STREAM)
    {
        return Err(Problem::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad-content-type",
            format!("PATCH bodies are {OFFSET_OCTET_STREAM}"),
        ));
    }
    let (status, pairs) = append(&state, &user, upload, &headers, body).await?;
    Ok(with_headers(status, pairs))
}

/// Abandon an upload (tus termination).
#[utoipa::path(delete, path = "/v1/uploads/{id}", tag = "uploads", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "upload id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such upload of yours")))]
pub async fn delete(
    State(state): State<AppState>,
    User(user): User,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Response, Problem> {
    let upload = owned(&state, &user, &headers, id).await?;
    if upload.post_id.is_none() {
        let parts = state.uploads.upload_parts(upload.id).await?;
        chunks::delete_chunks(&*state.blobs, upload.id, &parts).await;
    }
    state.uploads.delete_upload(id).await?;
    Ok(with_headers(StatusCode::NO_CONTENT, Vec::new()))
}
