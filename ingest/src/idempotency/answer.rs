//! An answer as the request that ran the work gave it, as it is stored,
//! and as a retry gets it again.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::Problem;

/// An answer as stored for replay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub status: u16,
    pub location: Option<String>,
    /// Where the write's event sits in the log (see `consistency`).
    #[serde(default)]
    pub consistency: Option<String>,
    /// The JSON body, serialised once: as the answer, as what is stored,
    /// and as each replay (a `Value` was serialised again for each, and
    /// cloned whole for the gateway's memory of answers).
    pub body: Box<serde_json::value::RawValue>,
}

impl Stored {
    /// The answer as the request that ran the work gives it.
    pub fn response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let json = [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        let mut response = (status, json, String::from(self.body.get())).into_response();
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        if let Some(token) = self.consistency.and_then(|t| HeaderValue::from_str(&t).ok()) {
            response.headers_mut().insert(crate::consistency::HEADER, token);
        }
        response
    }

    /// The answer as a retry gets it.
    pub(super) fn replayed(self) -> Response {
        let mut response = self.response();
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        response
    }
}

/// What a keyed request comes to.
pub enum Guarded<T> {
    /// This request ran the work; here is what the work gave besides its answer.
    Ran(Stored, T),
    /// An earlier request with the key decides.
    Earlier(Earlier),
}

/// What an earlier request with the same key came to.
pub enum Earlier {
    /// It was answered: this is its answer, to replay.
    Replay(Stored),
    /// It is still being handled (its lease runs).
    InFlight,
    /// It had another body.
    Conflict,
}

impl IntoResponse for Earlier {
    /// A replay of the first answer, 409 while it runs, 422 for another body.
    fn into_response(self) -> Response {
        match self {
            Earlier::Replay(stored) => {
                crate::metrics::idempotent_replay();
                stored.replayed()
            }
            Earlier::Conflict => Problem::client(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "this Idempotency-Key was used with a different request",
            )
            .into_response(),
            Earlier::InFlight => {
                let mut response = Problem::client(
                    StatusCode::CONFLICT,
                    "request-in-progress",
                    "a request with this Idempotency-Key is still being handled; retry shortly",
                )
                .into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
        }
    }
}
