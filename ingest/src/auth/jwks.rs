//! An identity provider's signing keys, from its JWKS document: fetched
//! at start, cached by key id, fetched again when a token names a key id
//! the cache lacks (keys rotate) and when the cache is an hour old (keys
//! are revoked). Those fetches are at most one per ten seconds, so tokens
//! with made-up key ids cannot turn into a flood against the provider.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::IngestError;

/// The least time between two fetches.
const MIN_REFETCH: Duration = Duration::from_secs(10);
/// The most time a fetched set is trusted without asking again.
const MAX_AGE: Duration = Duration::from_secs(3600);
/// The largest JWKS document read.
const MAX_DOCUMENT: usize = 1024 * 1024;

/// A verification key and the one algorithm it is for.
#[derive(Clone)]
pub struct VerifyingKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// The provider's keys by key id.
pub struct Jwks {
    url: String,
    client: reqwest::Client,
    cache: RwLock<Cache>,
    /// When a fetch was last tried; held while fetching, so one at a time.
    tried: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, VerifyingKey>,
    fetched: Option<Instant>,
}

impl Jwks {
    /// The keys at `url`, fetched once now. If the provider cannot be
    /// reached the gateway still starts, and the keys are fetched when a
    /// token needs them.
    pub async fn new(url: &str) -> Result<Jwks, IngestError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| jwks_error(url, e))?;
        let jwks = Jwks {
            url: url.to_owned(),
            client,
            cache: RwLock::new(Cache::default()),
            tried: tokio::sync::Mutex::new(None),
        };
        jwks.keep(jwks.fetch().await);
        Ok(jwks)
    }

    /// The key with id `kid`, fetching the set again if it is unknown or old.
    pub async fn key(&self, kid: &str) -> Option<VerifyingKey> {
        if let Some((key, fresh)) = self.cached(kid) {
            if fresh {
                return Some(key);
            }
        }
        self.refetch(MIN_REFETCH).await;
        self.cached(kid).map(|(key, _)| key)
    }

    /// The cached key `kid`, and whether the cache is younger than [`MAX_AGE`].
    fn cached(&self, kid: &str) -> Option<(VerifyingKey, bool)> {
        let cache = self.cache.read().ok()?;
        let fresh = cache.fetched.is_some_and(|at| at.elapsed() < MAX_AGE);
        cache.keys.get(kid).map(|key| (key.clone(), fresh))
    }

    /// Fetches the set unless a fetch was tried less than `spacing` ago.
    async fn refetch(&self, spacing: Duration) {
        let mut tried = self.tried.lock().await;
        if tried.is_some_and(|at| at.elapsed() < spacing) {
            return;
        }
        *tried = Some(Instant::now());
        self.keep(self.fetch().await);
    }

    /// Caches what a fetch brought, or says why it brought nothing.
    fn keep(&self, fetched: Result<HashMap<String, VerifyingKey>, IngestError>) {
        match fetched {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "identity provider keys fetched");
                if let Ok(mut cache) = self.cache.write() {
                    *cache = Cache {
                        keys,
                        fetched: Some(Instant::now()),
                    };
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not fetch the identity provider's keys"),
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, VerifyingKey>, IngestError> {
        let mut response = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| jwks_error(&self.url, e))?;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| jwks_error(&self.url, e))? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(jwks_error(&self.url, format!("larger than {MAX_DOCUMENT} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| jwks_error(&self.url, e))?;
        Ok(usable_keys(&set))
    }
}

/// The keys of `set` that sign RS256 or ES256 and have an id; others are
/// left out (a provider may publish encryption keys or other algorithms).
fn usable_keys(set: &JwkSet) -> HashMap<String, VerifyingKey> {
    set.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
                (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
                (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                    if ec.curve == EllipticCurve::P256 =>
                {
                    Algorithm::ES256
                }
                _ => return None,
            };
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, VerifyingKey { algorithm, key }))
        })
        .collect()
}

fn jwks_error(url: &str, reason: impl std::fmt::Display) -> IngestError {
    IngestError::Jwks {
        url: url.to_owned(),
        reason: reason.to_string(),
    }
}
