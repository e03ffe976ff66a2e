//! The distributed mode as operators run it: each role its own process
//! (`ingest`, `process`, `project`), all on one environment (topics,
//! bucket, database and JWT secret), and a load balancer in front of the
//! gateways that knows nothing of Imagegram.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{environment, spawn, App, Infra, BIN};

/// Every process of one deployment.
pub struct Cluster {
    pub env: Vec<(String, String)>,
    pub gateways: Vec<App>,
    /// `process` and `project` processes, each with its data dir.
    pub workers: Vec<Worker>,
}

pub struct Worker {
    pub role: String,
    pub child: Child,
    data: tempfile::TempDir,
    settings: Vec<(String, String)>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Cluster {
    /// The environment of a deployment on Kafka + S3 + MySQL, with a shared
    /// secret; `None` (with a note) when those services are not configured.
    pub fn environment(test: &str) -> Option<Vec<(String, String)>> {
        let mut env = environment(Infra::Distributed, test)?;
        let secret = format!("cluster-secret-{}", uuid::Uuid::new_v4().simple());
        env.push(("IMAGEGRAM_JWT_SECRET".into(), secret));
        Some(env)
    }

    /// No processes yet, on `env`.
    pub fn new(env: Vec<(String, String)>) -> Cluster {
        Cluster {
            env,
            gateways: Vec::new(),
            workers: Vec::new(),
        }
    }

    /// Starts one more gateway (`imagegram ingest`); its index.
    pub fn add_gateway(&mut self) -> usize {
        let data = tempfile::tempdir().expect("temp dir");
        let started = spawn(data.path(), &self.env, "ingest");
        self.gateways.push(App {
            child: started.child,
            base: started.base,
            metrics: started.metrics,
            data,
            env: self.env.clone(),
            role: "ingest".to_owned(),
            client: reqwest::Client::new(),
            logs: started.logs,
        });
        self.gateways.len() - 1
    }

    /// Starts one more `imagegram process` or `imagegram project`.
    pub fn add_worker(&mut self, role: &str) -> usize {
        self.add_worker_with(role, &[])
    }

    /// [`Cluster::add_worker`] with `settings` (`IMAGEGRAM_*` variables) added.
    pub fn add_worker_with(&mut self, role: &str, settings: &[(&str, &str)]) -> usize {
        let data = tempfile::tempdir().expect("temp dir");
        let settings: Vec<(String, String)> = settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let child = self.spawn_worker(role, data.path(), &settings);
        self.workers.push(Worker {
            role: role.to_owned(),
            child,
            data,
            settings,
        });
        self.workers.len() - 1
    }

    fn spawn_worker(&self, role: &str, data: &std::path::Path, settings: &[(String, String)]) -> Child {
        let mut command = Command::new(BIN);
        command.arg("--data-dir").arg(data).arg(role);
        command.envs(self.env.iter().chain(settings).map(|(k, v)| (k, v)));
        command.stdout(Stdio::null()).spawn().expect("imagegram starts")
    }

    /// kill -9 of worker `i`, then the same role started again in its place.
    pub fn kill_and_restart_worker(&mut self, i: usize, down_for: std::time::Duration) {
        let worker = &mut self.workers[i];
        let _ = worker.child.kill();
        let _ = worker.child.wait();
        std::thread::sleep(down_for);
        let worker = &self.workers[i];
        let child = self.spawn_worker(&worker.role, worker.data.path(), &worker.settings);
        self.workers[i].child = child;
    }

    /// A bearer token for `user`, signed with the deployment's secret.
    pub fn token(&self, user: &str) -> String {
        let out = Command::new(BIN)
            .args(["token", user])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("imagegram token");
        assert!(
            out.status.success(),
            "token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The deployment's database URL.
    pub fn database_url(&self) -> &str {
        super::value(&self.env, "IMAGEGRAM_DATABASE_URL").expect("a database")
    }
}

/// A TCP load balancer on 127.0.0.1: each connection goes to the next
/// backend in turn (round robin), its bytes copied both ways. Clients
/// that open a connection per request see each request go elsewhere.
pub struct Balancer {
    pub base: String,
    backends: Arc<std::sync::RwLock<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    pub async fn round_robin(backends: Vec<String>) -> Balancer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let backends: Vec<String> = backends
            .iter()
            .map(|b| b.trim_start_matches("http://").to_owned())
            .collect();
        let backends = Arc::new(std::sync::RwLock::new(backends));
        let (next, shared) = (Arc::new(AtomicUsize::new(0)), Arc::clone(&backends));
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let backend = {
                    let backends = shared.read().unwrap_or_else(|p| p.into_inner());
                    backends[next.fetch_add(1, Ordering::Relaxed) % backends.len()].clone()
                };
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Balancer { base, backends, task }
    }

    /// Sends backend `i`'s share to `base` from now on (a restarted gateway).
    pub fn replace(&self, i: usize, base: &str) {
        let mut backends = self.backends.write().unwrap_or_else(|p| p.into_inner());
        backends[i] = base.trim_start_matches("http://").to_owned();
    }

    /// An HTTP client that opens a new connection for every request, so
    /// the balancer sends each one to the next gateway.
    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
