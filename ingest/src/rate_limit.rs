//! Rate limits: a token bucket (GCRA) per user for each kind of write
//! (comments, deletes, posts, tus uploads created) and one per client
//! address for anonymous reads. Over the limit a request gets 429 with
//! `Retry-After` and the `RateLimit-Policy` and `RateLimit` fields of
//! the IETF httpapi draft, as problem+json.
//!
//! The buckets live in each gateway's memory. Behind a load balancer with
//! N gateways a client may get up to N times a limit, so operators divide
//! the budget: set each gateway's limit to the total wanted over N. A
//! shared store would turn every write into a network round trip first.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::Problem;

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Comment,
    Delete,
    Post,
    Upload,
    Read,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Comment,
        Action::Delete,
        Action::Post,
        Action::Upload,
        Action::Read,
    ];

    /// The limit's name, as `RateLimit-Policy` and `/metrics` say it.
    pub fn name(self) -> &'static str {
        match self {
            Action::Comment => "comments",
            Action::Delete => "deletes",
            Action::Post => "posts",
            Action::Upload => "uploads",
            Action::Read => "reads",
        }
    }
}

/// Requests allowed per minute for each action; 0 turns a limit off.
/// A client may spend a whole minute's worth at once, then refills at
/// the steady rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSettings {
    pub comments_per_minute: u32,
    pub deletes_per_minute: u32,
    pub posts_per_minute: u32,
    pub uploads_per_minute: u32,
    /// Reads: per user with a token, per client address without one.
    pub reads_per_minute: u32,
    /// Take the client's address from the last `X-Forwarded-For` entry
    /// (the one the load balancer added), not from the socket.
    pub trust_forwarded_for: bool,
}

impl Default for RateSettings {
    fn default() -> Self {
        RateSettings {
            comments_per_minute: 120,
            deletes_per_minute: 120,
            posts_per_minute: 30,
            uploads_per_minute: 30,
            reads_per_minute: 6_000,
            trust_forwarded_for: false,
        }
    }
}

type Bucket<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

struct Limit<K: std::hash::Hash + Eq + Clone> {
    per_minute: u32,
    bucket: Bucket<K>,
}

impl<K: std::hash::Hash + Eq + Clone> Limit<K> {
    fn new(per_minute: u32) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        Some(Limit {
            per_minute,
            bucket: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
        })
    }
}

/// Who a read is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reader {
    User(String),
    Address(IpAddr),
}

/// Every limit of one gateway; cheap to clone.
#[derive(Clone)]
pub struct RateLimits(Arc<Limits>);

struct Limits {
    comments: Option<Limit<String>>,
    deletes: Option<Limit<String>>,
    posts: Option<Limit<String>>,
    uploads: Option<Limit<String>>,
    reads: Option<Limit<Reader>>,
    trust_forwarded_for: bool,
    clock: DefaultClock,
}

impl RateLimits {
    pub fn new(settings: RateSettings) -> Self {
        RateLimits(Arc::new(Limits {
            comments: Limit::new(settings.comments_per_minute),
            deletes: Limit::new(settings.deletes_per_minute),
            posts: Limit::new(settings.posts_per_minute),
            uploads: Limit::new(settings.uploads_per_minute),
            reads: Limit::new(settings.reads_per_minute),
            trust_forwarded_for: settings.trust_forwarded_for,
            clock: DefaultClock::default(),
        }))
    }

    /// Takes a token for `user`'s `action`, or the 429 to answer.
    pub fn user(&self, action: Action, user: &str) -> Result<(), Problem> {
        let limit = match action {
            Action::Comment => &self.0.comments,
            Action::Delete => &self.0.deletes,
            Action::Post => &self.0.posts,
            Action::Upload => &self.0.uploads,
            Action::Read => return Ok(()),
        };
        match limit {
            Some(limit) => self.take(action, limit, &user.to_owned()),
            None => Ok(()),
        }
    }

    /// The client's address: the socket's peer, or with
    /// `trust_forwarded_for` the last `X-Forwarded-For` entry.
    pub fn client_address(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
        if self.0.trust_forwarded_for {
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
                .next_back();
            if forwarded.is_some() {
                return forwarded;
            }
        }
        peer
    }

    /// Takes a token for a read by `reader`, or the 429.
    pub fn read(&self, reader: &Reader) -> Result<(), Problem> {
        match &self.0.reads {
            Some(limit) => self.take(Action::Read, limit, reader),
            None => Ok(()),
        }
    }

    fn take<K: std::hash::Hash + Eq + Clone>(
        &self,
        action: Action,
        limit: &Limit<K>,
        key: &K,
    ) -> Result<(), Problem> {
        match limit.bucket.check_key(key) {
            Ok(_) => Ok(()),
            Err(not_until) => {
                crate::metrics::rate_limited(action.name());
                let wait = not_until.wait_time_from(self.0.clock.now());
                Err(too_many(action, limit.per_minute, wait))
            }
        }
    }

    /// Forgets clients whose buckets are full again, so memory follows
    /// the clients of the last minute, not every client ever seen.
    pub fn forget_idle(&self) {
        let limits = &self.0;
        for limit in [&limits.comments, &limits.deletes, &limits.posts, &limits.uploads]
            .into_iter()
            .flatten()
        {
            limit.bucket.retain_recent();
        }
        if let Some(reads) = &limits.reads {
            reads.bucket.retain_recent();
        }
    }
}

/// 429 with `Retry-After` and the draft's `RateLimit-Policy` and `RateLimit`.
fn too_many(action: Action, per_minute: u32, wait: Duration) -> Problem {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = u32::try_from(seconds.max(1)).unwrap_or(u32::MAX);
    let name = action.name();
    let problem = Problem::client(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        format!("at most {per_minute} {name} a minute; try again in {seconds} s"),
    );
    let mut problem = problem.retry_after(seconds);
    let fields = [
        ("ratelimit-policy", format!("\"{name}\";q={per_minute};w=60")),
        ("ratelimit", format!("\"{name}\";r=0;t={seconds}")),
    ];
    for (field, value) in fields {
        if let Ok(value) = HeaderValue::from_str(&value) {
            problem.headers.push((HeaderName::from_static(field), value));
        }
    }
    problem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_over_the_limit_waits_and_others_do_not() {
        let limits = RateLimits::new(RateSettings {
            comments_per_minute: 3,
            ..RateSettings::default()
        });
        for _ in 0..3 {
            assert!(limits.user(Action::Comment, "ann").is_ok());
        }
        let refused = limits.user(Action::Comment, "ann").err();
        assert_eq!(refused.as_ref().map(|p| p.status), Some(429));
        assert!(refused
            .as_ref()
            .and_then(|p| p.retry_after_secs())
            .is_some_and(|s| (1..=20).contains(&s)));
        assert!(
            limits.user(Action::Comment, "bob").is_ok(),
            "another user is served"
        );
        assert!(
            limits.user(Action::Delete, "ann").is_ok(),
            "another action is counted apart"
        );
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = RateLimits::new(RateSettings {
            posts_per_minute: 0,
            ..RateSettings::default()
        });
        for _ in 0..1_000 {
            assert!(limits.user(Action::Post, "ann").is_ok());
        }
    }
}
