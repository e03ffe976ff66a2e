//! The gateway directory: where each running gateway instance can be
//! reached, so that a gateway given a feed cursor another one made can
//! forward the page to it (the cursor's snapshot lives in that one's
//! memory). Entries are renewed while their gateway runs; one not renewed
//! within the caller's freshness window counts as gone.

use std::time::Duration;

use async_trait::async_trait;

use crate::StoreError;

#[async_trait]
pub trait GatewayDirectory: Send + Sync {
    /// Records `instance` at `address` (a base URL), seen now; renews it
    /// when it is there already. Entries unseen for a day are dropped.
    async fn announce(&self, instance: u64, address: &str) -> Result<(), StoreError>;

    /// `instance`'s address, if it was seen within `fresh_for`.
    async fn address_of(&self, instance: u64, fresh_for: Duration) -> Result<Option<String>, StoreError>;

    /// Forgets `instance`: it is stopping.
    async fn withdraw(&self, instance: u64) -> Result<(), StoreError>;
}
