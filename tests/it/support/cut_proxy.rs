//! A TCP proxy on 127.0.0.1 in front of a service, that a test can cut:
//! while cut, every open connection is closed and every new one is closed
//! at once, as a client sees a server that went away; restored, it
//! forwards again. Lets a test take the shared MariaDB or S3 server away
//! from one deployment without stopping it for the other tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct CutProxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    /// Forwards 127.0.0.1:<port> to `target` (`host:port`).
    pub async fn start(target: &str) -> CutProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (target, flag, connections) = (target.to_owned(), Arc::clone(&cut), Arc::clone(&open));
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let target = target.clone();
                let forward = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut open = connections.lock().unwrap_or_else(|p| p.into_inner());
                open.retain(|c| !c.is_finished());
                open.push(forward.abort_handle());
            }
        });
        CutProxy {
            port,
            cut,
            open,
            task,
        }
    }

    /// Closes every connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.open.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}
