//! Asking the running server that holds the embedded log: `imagegram
//! rebuild`, `replay`, `status` and `dlq list` do their work there when
//! the log file is in use, through its admin routes, with an operator
//! token made from the shared secret.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;

use crate::cli::ServerAccess;

/// Where `serve` records the address it listens on.
pub fn address_file(data_dir: &Path) -> PathBuf {
    data_dir.join("gateway.addr")
}

/// The running server and a token it takes.
pub struct Server {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Server {
    /// The server `access` names, or the one recorded in the data dir.
    pub fn find(data_dir: &Path, access: &ServerAccess, what: &str) -> anyhow::Result<Server> {
        let base = match &access.server {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let file = address_file(data_dir);
                let address = std::fs::read_to_string(&file).map_err(|e| {
                    anyhow::anyhow!(
                        "the embedded log is in use, but {} names no server ({e}); pass --server",
                        file.display()
                    )
                })?;
                format!("http://{}", address.trim())
            }
        };
        eprintln!("the embedded log is open in a running server; asking {base} to {what}");
        let secret = imagegram_ingest::load_or_create_secret(access.jwt_secret.as_deref(), data_dir)?;
        let token = imagegram_ingest::Auth::from_secret(&secret).issue_operator(Duration::from_secs(300))?;
        Ok(Server {
            base,
            token,
            client: reqwest::Client::new(),
        })
    }

    /// `method path?query`, failing on any answer but a success.
    pub async fn ask(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<reqwest::Response> {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .query(query)
            .bearer_auth(&self.token)
            .send()
            .await?;
        if !response.status().is_success() {
            let status = response.status();
            anyhow::bail!(
                "the server answered {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        Ok(response)
    }

    /// `GET path?query`, its JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<T> {
        Ok(self.ask(reqwest::Method::GET, path, query).await?.json().await?)
    }
}

/// A streamed answer of JSON lines, each parsed as it arrives.
pub fn json_lines<T: DeserializeOwned>(response: reqwest::Response) -> impl Stream<Item = anyhow::Result<T>> {
    let chunks = response.bytes_stream();
    futures::stream::unfold(
        (chunks, Vec::<u8>::new()),
        |(mut chunks, mut pending)| async move {
            loop {
                if let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let parsed = serde_json::from_slice(&line).map_err(anyhow::Error::from);
                    return Some((parsed, (chunks, pending)));
                }
                match chunks.next().await? {
                    Ok(chunk) => pending.extend_from_slice(&chunk),
                    Err(e) => return Some((Err(e.into()), (chunks, pending))),
                }
            }
        },
    )
}
