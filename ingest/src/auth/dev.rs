//! Development sign-in (`imagegram serve --dev-sign-in`): the web client
//! asks for a token for any name, so someone trying Imagegram on their
//! own machine needs no identity provider. Off by default; the binary
//! refuses it unless the gateway listens on loopback only.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::json_body::JsonBody;
use crate::state::AppState;
use crate::Problem;

/// How long a development token lasts.
const TTL: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    /// Any name: it becomes the user id.
    pub name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedIn {
    pub user: String,
    pub token: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Available {
    pub enabled: bool,
}

fn off() -> Problem {
    Problem::client(
        StatusCode::NOT_FOUND,
        "dev-sign-in-off",
        "development sign-in is off on this server; use a token",
    )
}

/// Whether development sign-in is on.
#[utoipa::path(get, path = "/v1/dev/sign-in", tag = "dev",
    responses((status = 200, body = Available), (status = 404, description = "off", content_type = "application/problem+json")))]
pub async fn available(State(state): State<AppState>) -> Result<Json<Available>, Problem> {
    if !state.dev_sign_in {
        return Err(off());
    }
    Ok(Json(Available { enabled: true }))
}

/// A token for any name (development only).
#[utoipa::path(post, path = "/v1/dev/sign-in", tag = "dev", request_body = SignIn,
    responses((status = 200, body = SignedIn),
        (status = 400, description = "not a usable name", content_type = "application/problem+json"),
        (status = 404, description = "off", content_type = "application/problem+json")))]
pub async fn sign_in(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SignIn>,
) -> Result<Json<SignedIn>, Problem> {
    if !state.dev_sign_in {
        return Err(off());
    }
    let name = request.name.trim();
    let usable = !name.is_empty() && name.chars().count() <= 64 && !name.chars().any(char::is_control);
    if !usable {
        return Err(Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-name",
            "a name is 1 to 64 characters, without control characters",
        ));
    }
    let token = state.auth.issue(name, TTL)?;
    Ok(Json(SignedIn {
        user: name.to_owned(),
        token,
    }))
}
