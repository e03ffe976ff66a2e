//! The tus 1.0 client calls the upload tests make, including a PATCH whose
//! connection is cut part-way.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine;
use reqwest::{Response, StatusCode};

use super::App;

pub const TUS: (&str, &str) = ("Tus-Resumable", "1.0.0");

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub async fn create(app: &App, token: &str, length: Option<usize>, metadata: &str) -> String {
    let mut request = app
        .client
        .post(app.url("/v1/uploads"))
        .bearer_auth(token)
        .header(TUS.0, TUS.1)
        .header("Upload-Metadata", metadata);
    request = match length {
        Some(n) => request.header("Upload-Length", n.to_string()),
        None => request.header("Upload-Defer-Length", "1"),
    };
    let response = request.send().await.expect("create");
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with("/v1/uploads/"), "{location}");
    location
}

pub async fn patch(
    app: &App,
    token: &str,
    location: &str,
    offset: usize,
    bytes: &[u8],
    extra: &[(&str, String)],
) -> Response {
    let mut request = app
        .client
        .patch(app.url(location))
        .bearer_auth(token)
        .header(TUS.0, TUS.1)
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string());
    for (k, v) in extra {
        request = request.header(*k, v.as_str());
    }
    request.body(bytes.to_vec()).send().await.expect("patch")
}

pub async fn offset_of(app: &App, token: &str, location: &str) -> (StatusCode, Option<usize>) {
    let response = app
        .client
        .head(app.url(location))
        .bearer_auth(token)
        .header(TUS.0, TUS.1)
        .send()
        .await
        .expect("head");
    let offset = response
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (response.status(), offset)
}

/// A PATCH that sends only `send` of the bytes it announces, then drops
/// the connection, like a phone going into a tunnel.
pub fn cut_patch(app: &App, token: &str, location: &str, offset: usize, rest: &[u8], send: usize) {
    let host = app.base.trim_start_matches("http://");
    let mut socket = TcpStream::connect(host).expect("connect");
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\nContent-Length: {}\r\n\r\n",
        rest.len()
    );
    socket.write_all(head.as_bytes()).expect("head");
    socket.write_all(&rest[..send]).expect("some bytes");
    socket.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(50));
    let _ = socket.shutdown(std::net::Shutdown::Both);
    let mut sink = Vec::new();
    let _ = socket.read_to_end(&mut sink);
}
