//! Sockets: the accept loop and what bounds each connection. At most
//! [`ConnectionLimits::open_at_once`] are open at once (more wait in the
//! kernel's backlog until one closes): `max_connections`, or fewer when
//! that many, each holding the largest head the cap lets through, would
//! not fit in `memory_budget`; a request head over `max_head_bytes` is answered 431
//! and its connection closed (hyper does both when its read buffer, capped
//! at that size, fills before the head ends); a connection that has not
//! sent a whole request head within `header_read_timeout` (a new
//! connection, or a kept-alive one between requests) is closed; a request
//! body that sends nothing for
//! `body_idle_timeout` fails (see `server.rs`). At shutdown the loop stops
//! accepting and every connection finishes the request in hand, then closes.

use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::IngestError;

/// What bounds the gateway's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once, at most (see [`Self::open_at_once`]).
    pub max_connections: usize,
    /// Bytes the open connections may hold in all, each reckoned at
    /// [`connection_bytes`] of the head cap.
    pub memory_budget: usize,
    /// Time to send a whole request head, and the most a kept-alive
    /// connection may sit idle between requests.
    pub header_read_timeout: Duration,
    /// The most a request body may go without sending a byte.
    pub body_idle_timeout: Duration,
    /// The largest request head (request line and headers), in bytes; at
    /// least [`MIN_HEAD_BYTES`].
    pub max_head_bytes: usize,
}

/// The smallest head cap hyper takes (its read buffer's floor).
pub const MIN_HEAD_BYTES: usize = 8 * 1024;

/// The default head cap: nginx's own default (four buffers of 8 KiB), four
/// times the largest head the API and the web client send (an identity
/// provider's JWT with group claims, about 8 KiB, beside a few hundred
/// bytes of other headers).
pub const DEFAULT_HEAD_BYTES: usize = 32 * 1024;

/// The default budget of the open connections' memory.
pub const DEFAULT_CONNECTION_MEMORY: usize = 384 << 20;

/// What one open connection may hold, reckoned from the head cap: about
/// 18 KiB whatever it does (hyper's first 8 KiB read buffer, its 8 KiB
/// write buffer, the task), and a read buffer that grows while a head
/// arrives. hyper grows it by doubling steps (8, 24, 56, 120 KiB...) until
/// it holds more than the cap, so a head just under the cap can leave it
/// at twice the cap, and the allocator rounds that up. Measured with heads
/// sent in the worst steps (`held_sockets.rs`): 18, 33, 74 and 165 KiB a
/// connection under caps of 8, 16, 32 and 64 KiB; reckoned 40, 60, 100 and
/// 180.
pub const fn connection_bytes(max_head_bytes: usize) -> usize {
    20 * 1024 + max_head_bytes * 5 / 2
}

impl ConnectionLimits {
    /// How many connections may be open at once: `max_connections`, or as
    /// many as the memory budget holds at the head cap, whichever is fewer
    /// (one at least).
    pub fn open_at_once(&self) -> usize {
        let each = connection_bytes(self.max_head_bytes.max(MIN_HEAD_BYTES));
        self.max_connections.min(self.memory_budget / each).max(1)
    }
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 10_000,
            memory_budget: DEFAULT_CONNECTION_MEMORY,
            header_read_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(30),
            max_head_bytes: DEFAULT_HEAD_BYTES,
        }
    }
}

/// A service behind the head cap: a request whose head is over `max`
/// bytes is answered here (431 as problem+json, and the connection
/// closed), the rest go on. hyper's read buffer, capped at the same size,
/// refuses most such heads before they are parsed (with a bare 431), but
/// one read can bring a head past the cap whole; this catches those. A
/// service of its own, not a middleware: no allocation on the way through.
#[derive(Clone)]
struct HeadCap<S> {
    inner: S,
    max: usize,
}

impl<S, B> tower::Service<hyper::Request<B>> for HeadCap<S>
where
    S: tower::Service<hyper::Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures::future::Either<std::future::Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: hyper::Request<B>) -> Self::Future {
        let line = request.method().as_str().len()
            + request.uri().path_and_query().map_or(1, |p| p.as_str().len())
            + " HTTP/1.1\r\n ".len();
        let head = request.headers().iter().fold(line, |sum, (name, value)| {
            sum + name.as_str().len() + value.len() + 4
        });
        if head <= self.max {
            return futures::future::Either::Right(self.inner.call(request));
        }
        let mut refused = crate::Problem::client(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "head-too-large",
            format!("the request head is over {} bytes", self.max),
        )
        .into_response();
        refused
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        futures::future::Either::Left(std::future::ready(Ok(refused)))
    }
}

/// Serves `router` on `listener` until `stop` is cancelled; then stops
/// accepting and lets requests in flight finish. Every listener (the
/// gateway's, and the metrics listener of `process` and `project`) comes
/// through here, so each has the same caps.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) -> Result<(), IngestError> {
    let max_head = limits.max_head_bytes.max(MIN_HEAD_BYTES);
    let open_at_once = limits.open_at_once();
    tracing::info!(
        open_at_once,
        memory_budget_mib = limits.memory_budget >> 20,
        each_kib = connection_bytes(max_head) >> 10,
        "connections bounded"
    );
    let open = Arc::new(Semaphore::new(open_at_once));
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(max_head)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => break,
            permit = Arc::clone(&open).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (socket, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment, do not spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        // Handlers see the peer as axum's `ConnectInfo` (rate limits use it).
        let with_peer = tower::ServiceExt::map_request(
            router.clone(),
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        );
        let service = TowerToHyperService::new(HeadCap {
            inner: with_peer,
            max: max_head,
        });
        let connection = http.serve_connection(TokioIo::new(socket), service);
        let stop = stop.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let outcome = tokio::select! {
                outcome = connection.as_mut() => outcome,
                _ = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = outcome {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_budget_bounds_the_connections_at_the_head_cap() {
        let defaults = ConnectionLimits::default();
        // 384 MiB at 100 KiB a connection (32 KiB heads).
        assert_eq!(defaults.open_at_once(), 3_932);
        let small_heads = ConnectionLimits {
            max_head_bytes: MIN_HEAD_BYTES,
            ..defaults
        };
        assert_eq!(small_heads.open_at_once(), 9_830);
        let counted = ConnectionLimits {
            max_connections: 100,
            ..defaults
        };
        assert_eq!(counted.open_at_once(), 100);
        let starved = ConnectionLimits {
            memory_budget: 0,
            ..defaults
        };
        assert_eq!(starved.open_at_once(), 1);
        // A head cap under hyper's floor is reckoned at the floor.
        let tiny = ConnectionLimits {
            max_head_bytes: 10,
            ..defaults
        };
        assert_eq!(tiny.open_at_once(), small_heads.open_at_once());
    }
}
