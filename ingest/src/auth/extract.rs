//! Who a request is from: the `User` and `Operator` extractors, from the
//! bearer token, for any state that holds an [`Auth`].

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;

use super::Auth;
use crate::Problem;

/// The signed-in user of a request; rejects with 401 otherwise.
#[derive(Debug, Clone)]
pub struct User(pub String);

impl<S> FromRequestParts<S> for User
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(unauthorized)?;
        match Auth::from_ref(state).verify(token).await {
            Some(user) => Ok(User(user)),
            None => Err(unauthorized()),
        }
    }
}

/// A request made with an operator token: 401 without a valid token, 403
/// with a user's.
#[derive(Debug, Clone)]
pub struct Operator;

impl<S> FromRequestParts<S> for Operator
where
    Auth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or_else(unauthorized)?;
        let auth = Auth::from_ref(state);
        if auth.verify_operator(token) {
            Ok(Operator)
        } else if auth.verify(token).await.is_some() {
            Err(Problem::client(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this needs an operator token",
            ))
        } else {
            Err(unauthorized())
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    bearer_token(&parts.headers)
}

/// The token of an `Authorization: Bearer …` header, if there is one.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim())
}

fn unauthorized() -> Problem {
    Problem::client(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a valid bearer token is required (Authorization: Bearer <token>)",
    )
}
