//! Identity: bearer tokens whose `sub` is the user id. HS256 tokens are
//! signed with the shared secret (`imagegram token` issues them); RS256
//! and ES256 tokens from an identity provider are checked against its
//! JWKS (`jwks.rs`), with its issuer and audience when set. Operator
//! tokens (for admin routes) are HS256 tokens with `scope: "operator"`.
//! Every token's `exp` and `nbf` are checked (30 s of leeway), and a `sub`
//! that is empty, over 255 bytes or holds control characters is refused.
//!
//! - `extract.rs`: the `User` and `Operator` extractors (401, 403).
//! - `secret.rs`: the shared secret, from settings or the data dir.
//! - `jwks.rs`: the provider's keys, cached by key id.
//! - `dev.rs`: development sign-in, a token for any name (off by default).

pub mod dev;
mod extract;
mod jwks;
mod secret;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub use extract::{bearer_token, Operator, User};
use jwks::Jwks;
pub use secret::{load_or_create_secret, MIN_SECRET_BYTES};

use crate::IngestError;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    iat: u64,
    exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

/// The scope of tokens that may run operator actions.
const OPERATOR: &str = "operator";

/// The longest user id accepted.
pub const MAX_USER_ID: usize = 255;

/// Seconds of clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;

/// An identity provider whose tokens are accepted besides HS256 ones.
#[derive(Debug, Clone, Default)]
pub struct IdentityProvider {
    /// Where its JWKS document is.
    pub jwks_url: String,
    /// The `iss` its tokens must carry, if set.
    pub issuer: Option<String>,
    /// An `aud` its tokens must carry, if set.
    pub audience: Option<String>,
}

/// Issues and checks tokens; cheap to clone.
#[derive(Clone)]
pub struct Auth(Arc<Keys>);

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    provider: Option<Provider>,
}

struct Provider {
    jwks: Jwks,
    rs256: Validation,
    es256: Validation,
}

impl Auth {
    /// HS256 tokens with `secret` only.
    pub fn from_secret(secret: &[u8]) -> Self {
        Auth(Arc::new(Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation: validation(Algorithm::HS256, None),
            provider: None,
        }))
    }

    /// HS256 tokens with `secret`, and RS256/ES256 tokens from `provider`
    /// (its keys are fetched now).
    pub async fn new(secret: &[u8], provider: Option<&IdentityProvider>) -> Result<Self, IngestError> {
        let provider = match provider {
            Some(p) => Some(Provider {
                jwks: Jwks::new(&p.jwks_url).await?,
                rs256: validation(Algorithm::RS256, Some(p)),
                es256: validation(Algorithm::ES256, Some(p)),
            }),
            None => None,
        };
        Ok(Auth(Arc::new(Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation: validation(Algorithm::HS256, None),
            provider,
        })))
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
        if !valid_user(user) {
            return Err(IngestError::Token(format!(
                "a user id is 1 to {MAX_USER_ID} bytes without control characters"
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
    pub async fn verify(&self, token: &str) -> Option<String> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let claims = match header.alg {
            Algorithm::HS256 => self.hs256_claims(token)?,
            Algorithm::RS256 | Algorithm::ES256 => {
                let provider = self.0.provider.as_ref()?;
                let found = provider.jwks.key(header.kid.as_deref()?).await?;
                if found.algorithm != header.alg {
                    return None;
                }
                let validation = match found.algorithm {
                    Algorithm::RS256 => &provider.rs256,
                    _ => &provider.es256,
                };
                jsonwebtoken::decode::<Claims>(token, &found.key, validation)
                    .ok()?
                    .claims
            }
            _ => return None,
        };
        valid_user(&claims.sub).then_some(claims.sub)
    }

    /// Whether a genuine, current token may run operator actions: only
    /// HS256 tokens made with the shared secret can.
    pub fn verify_operator(&self, token: &str) -> bool {
        self.hs256_claims(token)
            .is_some_and(|c| c.scope.as_deref() == Some(OPERATOR) && valid_user(&c.sub))
    }

    fn hs256_claims(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.0.decoding, &self.0.validation)
            .ok()
            .map(|data| data.claims)
    }
}

/// What every token must satisfy: `exp` and `sub`, `nbf` when present,
/// and the provider's issuer and audience when it sets them.
fn validation(algorithm: Algorithm, provider: Option<&IdentityProvider>) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    let mut required = vec!["exp", "sub"];
    validation.validate_aud = false;
    if let Some(provider) = provider {
        if let Some(issuer) = &provider.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        if let Some(audience) = &provider.audience {
            validation.set_audience(&[audience]);
            validation.validate_aud = true;
            required.push("aud");
        }
    }
    validation.set_required_spec_claims(&required);
    validation
}

/// A user id we accept: 1 to 255 bytes, no control characters (it goes
/// into logs, keys and answers).
fn valid_user(sub: &str) -> bool {
    !sub.is_empty() && sub.len() <= MAX_USER_ID && !sub.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn signed(auth: &Auth, claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &auth.0.encoding).expect("encode")
    }

    #[tokio::test]
    async fn tokens_round_trip_and_forgeries_fail() {
        let auth = Auth::from_secret(b"secret-one");
        let token = auth.issue("ann", Duration::from_secs(60)).expect("issue");
        assert_eq!(auth.verify(&token).await.as_deref(), Some("ann"));
        assert_eq!(Auth::from_secret(b"secret-two").verify(&token).await, None);
        assert_eq!(auth.verify("not.a.token").await, None);
        let past = now() - 3600;
        let expired = signed(
            &auth,
            &serde_json::json!({"sub": "ann", "iat": past - 60, "exp": past}),
        );
        assert_eq!(auth.verify(&expired).await, None, "an hour past its expiry");
    }

    #[tokio::test]
    async fn not_before_and_control_characters_are_refused() {
        let auth = Auth::from_secret(b"secret-one");
        let later = now() + 3600;
        let early = signed(
            &auth,
            &serde_json::json!({"sub": "ann", "exp": later + 60, "nbf": later}),
        );
        assert_eq!(auth.verify(&early).await, None, "an hour before its nbf");
        let started = signed(
            &auth,
            &serde_json::json!({"sub": "ann", "exp": later, "nbf": now() - 10}),
        );
        assert_eq!(auth.verify(&started).await.as_deref(), Some("ann"));
        for sub in ["ann\nadmin", "\u{1b}[31mred", "tab\there", ""] {
            let token = signed(&auth, &serde_json::json!({"sub": sub, "exp": later}));
            assert_eq!(auth.verify(&token).await, None, "{sub:?}");
        }
        assert!(auth.issue("ann\nadmin", Duration::from_secs(60)).is_err());
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
}
