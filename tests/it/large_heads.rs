//! Request heads as an attacker sends them: one over the cap is answered
//! 431 on every listener (the API's and the metrics'); two thousand held
//! just under it, grown in the steps that make hyper's read buffer largest,
//! stay within the connection memory budget while the feed is still
//! served to someone else.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use imagegram_testkit::eventually;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::server_sockets::{all_read_by_server, established_to, port_of};
use crate::support::{App, Infra};

/// Sends `head` (a whole request head) on a new connection and reads what
/// comes back until the server closes the connection (or a minute passes).
async fn answer_to(address: &str, head: &[u8]) -> String {
    let mut socket = TcpStream::connect(address).await.expect("connect");
    // The server may answer and close before it has read all of a head it
    // refuses: a failed write is part of that answer.
    let _ = socket.write_all(head).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(60), socket.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// A head over the cap is answered 431 and its connection closed; one
/// carrying a long identity-provider token (16 KiB) is served. The
/// metrics listener has the same cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_over_the_cap_is_answered_431() {
    let Some(app) = App::start_with(
        Infra::Embedded,
        "serve",
        "head cap",
        &[("IMAGEGRAM_MAX_HEAD_BYTES", "32768")],
    ) else {
        return;
    };
    let header = |path: &str, bytes: usize| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            "a".repeat(bytes)
        )
    };
    let metrics = app
        .metrics
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .to_owned();
    let api = app.base.trim_start_matches("http://").to_owned();
    for (listener, path) in [(api, "/healthz"), (metrics, "/metrics")] {
        // Just over the cap (whole in one read, caught after parsing: a
        // problem) and far over it (hyper's buffer fills first).
        let over = answer_to(&listener, header(path, 40 * 1024).as_bytes()).await;
        assert!(
            over.starts_with("HTTP/1.1 431"),
            "{path}, 40 KiB of head: {over:?}"
        );
        let far_over = answer_to(&listener, header(path, 400 * 1024).as_bytes()).await;
        assert!(
            far_over.starts_with("HTTP/1.1 431"),
            "{path}, 400 KiB of head: {far_over:?}"
        );
        let within = answer_to(&listener, header(path, 16 * 1024).as_bytes()).await;
        assert!(
            within.starts_with("HTTP/1.1 200"),
            "{path}, 16 KiB of head: {within:?}"
        );
    }
}

/// Connections held with heads just under the default cap.
const HELD: usize = 2_000;
/// What the gateway may reach, at most, with every connection it admits
/// holding such a head.
const BOUND_MIB: u64 = 512;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_heads_just_under_the_cap_stay_within_the_memory_bound() {
    // The header timeout is long enough that none is closed while measured.
    let Some(app) = App::start_with(
        Infra::Embedded,
        "serve",
        "heads under the cap",
        &[("IMAGEGRAM_HEADER_READ_TIMEOUT", "300s")],
    ) else {
        return;
    };
    let limits = imagegram_ingest::ConnectionLimits::default();
    let cap = limits.max_head_bytes;
    let port = port_of(&app.base);
    let address = app.base.trim_start_matches("http://").to_owned();

    // Someone else reads the feed all along.
    let reading = Arc::new(AtomicBool::new(true));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = tokio::spawn({
        let (reading, reads) = (Arc::clone(&reading), Arc::clone(&reads));
        // A client of its own: its connection closes with it.
        let (client, url) = (reqwest::Client::new(), app.url("/v1/posts?limit=10"));
        async move {
            while reading.load(Ordering::Relaxed) {
                let answer = client.get(&url).send().await.expect("the feed answers");
                assert_eq!(answer.status(), reqwest::StatusCode::OK);
                answer.bytes().await.expect("a whole page");
                reads.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });

    let (rss_before, _) = app.memory_kib();
    let mut sockets = Vec::with_capacity(HELD);
    for _ in 0..HELD {
        sockets.push(TcpStream::connect(&address).await.expect("connect"));
    }
    all_read_by_server(port, HELD, "every connection accepted").await;
    let (rss_connected, _) = app.memory_kib();
    // 8 KiB, then 16 KiB, then up to just under the cap: each step read
    // whole before the next, so hyper's buffer grows the most it can.
    let start = b"GET /v1/posts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ";
    let mut sent = 0;
    for step in [8 * 1024, 16 * 1024, cap - 64 - 24 * 1024] {
        let mut bytes = vec![b'a'; step];
        if sent == 0 {
            bytes[..start.len()].copy_from_slice(start);
        }
        for socket in &mut sockets {
            socket.write_all(&bytes).await.expect("part of a head");
        }
        sent += step;
        all_read_by_server(
            port,
            HELD,
            &format!("{sent} bytes of head read on every connection"),
        )
        .await;
    }
    let (rss_held, peak) = app.memory_kib();
    // None was closed: each would still take the rest of its head.
    for socket in &sockets {
        let mut byte = [0u8; 1];
        match socket.try_read(&mut byte) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("a held connection was answered or closed: {other:?}"),
        }
    }
    reading.store(false, Ordering::Relaxed);
    reader.await.expect("the feed was served throughout");
    assert!(
        reads.load(Ordering::Relaxed) > 0,
        "the feed was read while heads were held"
    );

    let per_connection = (rss_held - rss_before) / HELD as u64;
    let reckoned = imagegram_ingest::connection_bytes(cap) as u64 / 1024;
    let admitted = limits.open_at_once() as u64;
    let projected_mib = (rss_before + admitted * per_connection) / 1024;
    println!(
        "{HELD} heads of {sent} bytes: RSS {rss_before} KiB before, {rss_connected} KiB connected, \
         {rss_held} KiB held (peak {peak} KiB): {per_connection} KiB a connection, reckoned {reckoned}; \
         projected at the {admitted} connections admitted: {projected_mib} MiB"
    );
    assert!(
        per_connection <= reckoned,
        "a connection holding a head under the cap took {per_connection} KiB; the budget reckons {reckoned}"
    );
    assert!(peak / 1024 < BOUND_MIB, "peak RSS {peak} KiB");
    assert!(
        projected_mib < BOUND_MIB,
        "{admitted} connections at {per_connection} KiB would reach {projected_mib} MiB"
    );

    drop(sockets);
    eventually(
        Duration::from_secs(60),
        "every held connection closed",
        || async {
            match established_to(port).len() {
                0 => Ok(()),
                open => Err(format!("{open} still open")),
            }
        },
    )
    .await;
    let (rss_after, _) = app.memory_kib();
    println!("closed: RSS {rss_after} KiB (the allocator keeps what it freed for the next ones)");
}
