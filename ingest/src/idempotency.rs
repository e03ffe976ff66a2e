//! `Idempotency-Key`: a retry with the same key by the same user gets the
//! same answer and adds nothing; the same key with another body gets 422.
//! Ids are derived from (user, key), so a retry that reaches another gateway
//! instance names the same post or comment, and the log's consumers drop
//! the repeat.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use imagegram_readstore::{Claim, ReadStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Problem;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY: usize = 255;

/// The key a request came with, if any.
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= MAX_KEY => Ok(Some(key.to_owned())),
        _ => Err(Problem::client(
            StatusCode::BAD_REQUEST,
            "bad-idempotency-key",
            format!("Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters"),
        )),
    }
}

/// A digest of everything that makes two requests the same request.
pub fn request_hash(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// An answer as stored for replay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub status: u16,
    pub location: Option<String>,
    pub body: serde_json::Value,
}

impl IntoResponse for Stored {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = (status, axum::Json(self.body)).into_response();
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        response
    }
}

/// What to do with a keyed request.
pub enum Decision {
    Proceed,
    Answer(Response),
}

/// Claims the key; `Answer` carries the reply for a repeat or a conflict.
pub async fn claim(store: &dyn ReadStore, user: &str, key: &str, hash: &str) -> Result<Decision, Problem> {
    let claim = store
        .claim_request(user, key, hash)
        .await
        .map_err(|e| Problem::server(StatusCode::SERVICE_UNAVAILABLE, &e))?;
    Ok(match claim {
        Claim::Fresh => Decision::Proceed,
        Claim::Replay(text) => match serde_json::from_str::<Stored>(&text) {
            Ok(stored) => Decision::Answer(stored.into_response()),
            Err(e) => return Err(Problem::server(StatusCode::INTERNAL_SERVER_ERROR, &e)),
        },
        Claim::Conflict => Decision::Answer(
            Problem::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "this Idempotency-Key was used with a different request",
            )
            .into_response(),
        ),
        Claim::InFlight => {
            let mut response = Problem::client(
                StatusCode::CONFLICT,
                "request-in-progress",
                "a request with this Idempotency-Key is still being handled; retry shortly",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Decision::Answer(response)
        }
    })
}

/// Stores the answer for replays; a failure here only costs a replay.
pub async fn complete(store: &dyn ReadStore, user: &str, key: &str, stored: &Stored) {
    let text = match serde_json::to_string(stored) {
        Ok(text) => text,
        Err(e) => return tracing::error!(error = %e, "could not serialise an idempotent answer"),
    };
    if let Err(e) = store.complete_request(user, key, &text).await {
        tracing::warn!(error = %e, "could not store an idempotent answer");
    }
}

/// Frees the key after a failed request, so the client's retry can run.
pub async fn release(store: &dyn ReadStore, user: &str, key: &str) {
    if let Err(e) = store.release_request(user, key).await {
        tracing::warn!(error = %e, "could not release an idempotency key");
    }
}
