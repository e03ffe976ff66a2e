//! Feed pages through any gateway. A cursor's snapshot lives in the memory
//! of the gateway that made the first page: its owner, named in the
//! cursor. Each gateway announces the address it is reached at in the
//! gateway directory (the read database), renewed every few seconds; a
//! gateway given another's cursor looks the owner up and forwards the
//! request there, after Kafka Streams' interactive queries. One hop at
//! most: the forwarded request carries a tag signed with the shared
//! secret, and a tagged request for a foreign cursor is answered, never
//! forwarded again. An owner that is gone (not renewed, or not accepting
//! connections) makes the answer 410: start again from the first page.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use imagegram_readstore::GatewayDirectory;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::{IngestError, Problem};

/// How often a gateway renews its entry.
const RENEW_EVERY: Duration = Duration::from_secs(3);
/// An entry not renewed for this long is a gateway that is gone.
const FRESH_FOR: Duration = Duration::from_secs(10);
/// How long a looked-up address is reused before asking again.
const REMEMBER_FOR: Duration = Duration::from_secs(2);
/// The most a forwarded page may take.
const HOP_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest forwarded answer taken (100 items of capped size fit).
const MAX_FORWARDED_BYTES: usize = 8 << 20;

/// Marks a request one gateway forwarded to another, with its signature.
pub const HOP_HEADER: &str = "imagegram-hop";

/// This gateway's peers: announcing itself, finding others, forwarding.
#[derive(Clone)]
pub struct Peers {
    directory: Arc<dyn GatewayDirectory>,
    client: reqwest::Client,
    addresses: moka::future::Cache<u64, Option<String>>,
    key: [u8; 32],
}

impl Peers {
    /// `secret` is the one every gateway shares; the hop tags' key is
    /// derived from it.
    pub fn new(directory: Arc<dyn GatewayDirectory>, secret: &[u8]) -> Result<Self, IngestError> {
        let client = reqwest::Client::builder()
            .timeout(HOP_TIMEOUT)
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| IngestError::Peer {
                owner: String::new(),
                source: e,
            })?;
        let mut hash = Sha256::new();
        hash.update(b"imagegram gateway hop v1\0");
        hash.update(secret);
        Ok(Peers {
            directory,
            client,
            addresses: moka::future::Cache::builder()
                .time_to_live(REMEMBER_FOR)
                .max_capacity(1_000)
                .build(),
            key: hash.finalize().into(),
        })
    }

    /// Announces `instance` at `address` now and every few seconds until
    /// `stop`, then withdraws it. A failed renewal is logged and retried:
    /// meanwhile other gateways answer 410 for this one's cursors.
    pub async fn announce(&self, instance: u64, address: String, stop: CancellationToken) {
        if let Err(e) = self.directory.announce(instance, &address).await {
            tracing::warn!(error = %e, "announcing this gateway in the directory failed; retrying");
        }
        tracing::info!(%address, instance, "announced in the gateway directory");
        let directory = Arc::clone(&self.directory);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RENEW_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = every.tick() => {
                        if let Err(e) = directory.announce(instance, &address).await {
                            tracing::warn!(error = %e, "renewing this gateway in the directory failed");
                        }
                    }
                }
            }
            if let Err(e) = directory.withdraw(instance).await {
                tracing::warn!(error = %e, "withdrawing this gateway from the directory failed");
            }
        });
    }

    fn mac(&self, path_and_query: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length; 32 bytes cannot be refused.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!());
        mac.update(path_and_query.as_bytes());
        mac
    }

    fn hop_tag(&self, path_and_query: &str) -> String {
        hex::encode(self.mac(path_and_query).finalize().into_bytes())
    }

    /// Whether the request to `path_and_query` was forwarded by a peer
    /// (its hop tag is this secret's signature of it).
    pub fn is_hop(&self, headers: &HeaderMap, path_and_query: &str) -> bool {
        let Some(tag) = headers.get(HOP_HEADER).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Ok(tag) = hex::decode(tag) else {
            return false;
        };
        self.mac(path_and_query).verify_slice(&tag).is_ok()
    }

    async fn address_of(&self, owner: u64) -> Result<Option<String>, IngestError> {
        if let Some(known) = self.addresses.get(&owner).await {
            return Ok(known);
        }
        let found = self.directory.address_of(owner, FRESH_FOR).await?;
        self.addresses.insert(owner, found.clone()).await;
        Ok(found)
    }

    /// The answer of gateway `owner` to `path_and_query`: its status,
    /// content type and body as they are. 410 if it is gone.
    pub async fn forward(&self, owner: u64, path_and_query: &str) -> Result<Response, Problem> {
        let Some(address) = self.address_of(owner).await? else {
            return Err(owner_gone());
        };
        let url = format!("{}{path_and_query}", address.trim_end_matches('/'));
        let mut request = self
            .client
            .get(&url)
            .header(HOP_HEADER, self.hop_tag(path_and_query));
        // The owner's log lines about this page name the client's request.
        if let Some(id) = crate::request_id::current() {
            request = request.header(crate::request_id::HEADER, id);
        }
        let sent = request.send().await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) if e.is_connect() => {
                // It died without withdrawing: its snapshots died with it.
                self.addresses.insert(owner, None).await;
                tracing::info!(%address, error = %e, "the gateway holding a snapshot is gone");
                return Err(owner_gone());
            }
            Err(e) => {
                return Err(IngestError::Peer {
                    owner: address,
                    source: e,
                }
                .into())
            }
        };
        let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
        let retry_after = answer.headers().get(header::RETRY_AFTER).cloned();
        if answer
            .content_length()
            .is_some_and(|n| n > MAX_FORWARDED_BYTES as u64)
        {
            return Err(IngestError::Broken("a forwarded feed page was larger than any page can be").into());
        }
        let body = answer.bytes().await.map_err(|e| IngestError::Peer {
            owner: address.clone(),
            source: e,
        })?;
        if body.len() > MAX_FORWARDED_BYTES {
            return Err(IngestError::Broken("a forwarded feed page was larger than any page can be").into());
        }
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        for (name, value) in [
            (header::CONTENT_TYPE, content_type),
            (header::RETRY_AFTER, retry_after),
        ] {
            if let Some(value) = value {
                headers.insert(name, value);
            }
        }
        headers.insert("imagegram-served-by", HeaderValue::from(owner));
        Ok(response)
    }
}

/// The 410 for a cursor whose snapshot is no longer anywhere.
pub(crate) fn owner_gone() -> Problem {
    Problem::client(
        StatusCode::GONE,
        "cursor-expired",
        "this feed snapshot has expired, or the gateway holding it stopped; start again from the first page",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoDirectory;

    #[async_trait::async_trait]
    impl GatewayDirectory for NoDirectory {
        async fn announce(&self, _: u64, _: &str) -> Result<(), imagegram_readstore::StoreError> {
            Ok(())
        }
        async fn address_of(
            &self,
            _: u64,
            _: Duration,
        ) -> Result<Option<String>, imagegram_readstore::StoreError> {
            Ok(None)
        }
        async fn withdraw(&self, _: u64) -> Result<(), imagegram_readstore::StoreError> {
            Ok(())
        }
    }

    fn peers(secret: &[u8]) -> Peers {
        Peers::new(Arc::new(NoDirectory), secret).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_hop_tag_holds_for_its_request_and_secret_only() {
        let a = peers(b"one secret of at least thirty-two bytes");
        let path = "/v1/posts?limit=5&cursor=abc";
        let mut headers = HeaderMap::new();
        headers.insert(
            HOP_HEADER,
            HeaderValue::from_str(&a.hop_tag(path)).unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(a.is_hop(&headers, path));
        assert!(!a.is_hop(&headers, "/v1/posts?limit=6&cursor=abc"));
        assert!(!peers(b"another secret of at least 32 bytes!!").is_hop(&headers, path));
        assert!(!a.is_hop(&HeaderMap::new(), path));
        headers.insert(HOP_HEADER, HeaderValue::from_static("zz"));
        assert!(!a.is_hop(&headers, path));
    }
}
