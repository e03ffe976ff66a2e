//! Sockets a client cannot hold: connections idle mid-header are closed
//! after the header read timeout while the server's memory stays put; a
//! stalled upload body is cut off after the body idle timeout, leaving no
//! blob; past the connection cap, a new connection waits until one closes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::server_sockets::{all_read_by_server, port_of};
use crate::support::{files_under, png, App, Infra};

fn address(app: &App) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the socket (or resets it); false if it
/// is still open at `deadline`.
async fn closed_by(socket: &mut TcpStream, deadline: tokio::time::Instant) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // an answer before closing is fine
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sockets_idle_mid_header_are_closed_and_memory_stays_bounded() {
    let Some(app) = App::start_with(
        Infra::Embedded,
        "serve",
        "idle mid-header",
        &[("IMAGEGRAM_HEADER_READ_TIMEOUT", "10s")],
    ) else {
        return;
    };
    let (rss_before, _) = app.memory_kib();
    let mut sockets = Vec::with_capacity(1_000);
    for _ in 0..1_000 {
        let mut socket = TcpStream::connect(address(&app)).await.expect("connect");
        socket
            .write_all(b"GET /v1/posts HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await
            .expect("half a head");
        sockets.push(socket);
    }
    all_read_by_server(port_of(&app.base), 1_000, "every half head read").await;
    let (rss_held, _) = app.memory_kib();
    // Ten times the timeout: the bound is on behaviour, not on speed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(100);
    let mut still_open = 0;
    for socket in &mut sockets {
        if !closed_by(socket, deadline).await {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open, 0,
        "sockets still open 100 s after a 10 s header timeout"
    );
    let grown_mib = rss_held.saturating_sub(rss_before) / 1024;
    println!(
        "1,000 half-sent heads: RSS {rss_before} KiB before, {rss_held} KiB while held (+{grown_mib} MiB)"
    );
    assert!(grown_mib < 64, "RSS grew {grown_mib} MiB for 1,000 idle sockets");
    // The server still answers.
    let health = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    assert!(health.status().is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_body_is_cut_off_and_leaves_nothing() {
    let Some(app) = App::start_with(
        Infra::Embedded,
        "serve",
        "stalled upload",
        &[("IMAGEGRAM_BODY_IDLE_TIMEOUT", "2s")],
    ) else {
        return;
    };
    let token = app.token("ann");
    let image = png(64, 64);
    let boundary = "stalled-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    );
    let declared = head.len() + 1_000_000;
    let mut socket = TcpStream::connect(address(&app)).await.expect("connect");
    let request = format!(
        "POST /v1/posts HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {declared}\r\n\r\n{head}"
    );
    socket.write_all(request.as_bytes()).await.expect("head");
    socket.write_all(&image).await.expect("first bytes");
    // Then nothing: the body stalls with most of it unsent.
    let mut answer = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
            Err(_) => panic!("the stalled upload still holds its connection after 20 s"),
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.len() > 100 {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    // The partial original is removed (the delete follows the answer).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !files_under(&app.data.path().join("blobs")).is_empty() {
        assert!(std::time::Instant::now() < deadline, "a partial blob stayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_a_new_connection_waits_for_one_to_close() {
    let Some(app) = App::start_with(
        Infra::Embedded,
        "serve",
        "connection cap",
        &[
            ("IMAGEGRAM_MAX_CONNECTIONS", "4"),
            ("IMAGEGRAM_HEADER_READ_TIMEOUT", "60s"),
        ],
    ) else {
        return;
    };
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut socket = TcpStream::connect(address(&app)).await.expect("connect");
        // Served once, and kept open: the server has accepted it.
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .expect("a request");
        let mut head = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(60), socket.read_exact(&mut head))
            .await
            .expect("an answer within a minute")
            .expect("an answer");
        assert_eq!(&head, b"HTTP/1.1 200", "a held connection is served");
        held.push(socket);
    }
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("client");
    let waiting = patient.get(app.url("/healthz")).send().await;
    assert!(
        waiting.as_ref().is_err_and(|e| e.is_timeout()),
        "a fifth connection was served while four were open: {waiting:?}"
    );
    drop(held.pop());
    let served = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("served once one closed");
    assert!(served.status().is_success());
}
