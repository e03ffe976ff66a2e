//! Identity: HS256 bearer tokens whose `sub` is the user id; operator
//! tokens (for admin routes) carry `scope: "operator"` as well.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{IngestError, Problem};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// The scope of tokens that may run operator actions.
const OPERATOR: &str = "operator";

/// Issues and checks tokens with one shared secret; cheap to clone.
#[derive(Clone)]
pub struct Auth(Arc<Keys>);

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// The longest user id accepted.
pub const MAX_USER_ID: usize = 255;

impl Auth {
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Auth(Arc::new(Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }))
    }

    /// A token for `user`, valid for `ttl`.
    pub fn issue(&self, user: &str, ttl: Duration) -> Result<String, IngestError> {
        self.issue_scoped(user, ttl, None)
    }

    /// A token for operator actions (`imagegram rebuild` against a running
    /// server makes one from the shared secret), valid for `ttl`.
    pub fn issue_operator(&self, ttl: Duration) -> Result<String, IngestError> {
        self.issue_scoped(OPERATOR, ttl, Some(OPERATOR))
    }

    fn issue_scoped(&self, user: &str, ttl: Duration, scope: Option<&str>) -> Result<String, IngestError> {
        if user.is_empty() || user.len() > MAX_USER_ID {
            return Err(IngestError::Token(format!(
                "a user id is 1 to {MAX_USER_ID} bytes"
            )));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = Claims {
            sub: user.to_owned(),
            iat: now,
            exp: now + ttl.as_secs(),
            scope: scope.map(str::to_owned),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.0.encoding)
            .map_err(|e| IngestError::Token(e.to_string()))
    }

    /// The user a token names, if it is genuine and current.
    pub fn verify(&self, token: &str) -> Option<String> {
        self.claims(token).map(|c| c.sub)
    }

    /// Whether a genuine, current token may run operator actions.
    pub fn verify_operator(&self, token: &str) -> bool {
        self.claims(token)
            .is_some_and(|c| c.scope.as_deref() == Some(OPERATOR))
    }

    fn claims(&self, token: &str) -> Option<Claims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.0.decoding, &self.0.validation).ok()?;
        let sub = &data.claims.sub;
        (!sub.is_empty() && sub.len() <= MAX_USER_ID).then_some(data.claims)
    }
}

/// The secret from settings, or the one kept in the data dir (made once, mode 0600).
pub fn load_or_create_secret(explicit: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, IngestError> {
    if let Some(secret) = explicit.filter(|s| !s.is_empty()) {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join("jwt-secret");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(IngestError::Secret(e)),
    }
    let mut random = [0u8; 32];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").map_err(IngestError::Secret)?,
        &mut random,
    )
    .map_err(IngestError::Secret)?;
    let secret = hex::encode(random);
    std::fs::create_dir_all(data_dir).map_err(IngestError::Secret)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, secret.as_bytes()).map_err(IngestError::Secret)?
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return load_or_create_secret(None, data_dir)
        }
        Err(e) => return Err(IngestError::Secret(e)),
    }
    Ok(secret.into_bytes())
}

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
        match bearer(parts).and_then(|t| Auth::from_ref(state).verify(t)) {
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
        } else if auth.verify(token).is_some() {
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
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_forgeries_fail() {
        let auth = Auth::from_secret(b"secret-one");
        let token = auth.issue("ann", Duration::from_secs(60)).expect("issue");
        assert_eq!(auth.verify(&token).as_deref(), Some("ann"));
        assert_eq!(Auth::from_secret(b"secret-two").verify(&token), None);
        assert_eq!(auth.verify("not.a.token"), None);
        let past = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            - 3600;
        let claims = Claims {
            sub: "ann".into(),
            iat: past - 60,
            exp: past,
            scope: None,
        };
        let expired =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &auth.0.encoding).expect("encode");
        assert_eq!(auth.verify(&expired), None, "an hour past its expiry");
    }

    #[test]
    fn only_operator_tokens_pass_as_operators() {
        let auth = Auth::from_secret(b"secret-one");
        let operator = auth.issue_operator(Duration::from_secs(60)).expect("issue");
        let user = auth.issue("operator", Duration::from_secs(60)).expect("issue");
        assert!(auth.verify_operator(&operator));
        assert!(!auth.verify_operator(&user), "a user named operator is not one");
        assert!(!Auth::from_secret(b"secret-two").verify_operator(&operator));
    }

    #[test]
    fn the_secret_is_made_once_and_kept() {
        let dir = tempfile_dir();
        let first = load_or_create_secret(None, &dir).expect("made");
        let second = load_or_create_secret(None, &dir).expect("read");
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        assert_eq!(
            load_or_create_secret(Some("explicit"), &dir).expect("explicit"),
            b"explicit"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("imagegram-auth-{}", uuid::Uuid::new_v4()))
    }
}
