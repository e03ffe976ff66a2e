//! Command line: subcommands and their settings. Every setting also reads an
//! `IMAGEGRAM_*` environment variable (shown in `--help`).

use clap::{Args, Parser, Subcommand, ValueEnum};
use imagegram_platform::{BlobSettings, CommonSettings, LogSettings, StoreSettings};

#[derive(Debug, Parser)]
#[command(
    name = "imagegram",
    version,
    about = "Imagegram: an event-sourced image-sharing backend"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonSettings,
    #[command(flatten)]
    pub log: LogSettings,
    #[command(flatten)]
    pub blobs: BlobSettings,
    #[command(flatten)]
    pub store: StoreSettings,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every role in one process (the embedded default needs nothing else).
    Serve {
        #[command(flatten)]
        http: HttpSettings,
        #[command(flatten)]
        convert: ConvertSettings,
        #[command(flatten)]
        metrics: MetricsSettings,
    },
    /// Only the ingest gateway (HTTP API).
    Ingest {
        #[command(flatten)]
        http: HttpSettings,
        #[command(flatten)]
        metrics: MetricsSettings,
    },
    /// Only the stream processors (image conversion), as a consumer group.
    Process {
        #[command(flatten)]
        convert: ConvertSettings,
        #[command(flatten)]
        metrics: MetricsSettings,
    },
    /// Only the projections (read tables).
    Project {
        #[command(flatten)]
        metrics: MetricsSettings,
    },
    /// Write a topic's events, decoded, as JSON lines or an Avro container
    /// file (reads only; never moves a consumer group).
    Replay(ReplayArgs),
    /// Lag per consumer and topic, dead letters and open uploads (reads only).
    Status {
        #[command(flatten)]
        access: ServerAccess,
    },
    /// Rebuild the read tables from the whole log into shadow tables, check
    /// the counts and swap them in (the live ones serve meanwhile). When a
    /// running `serve` holds the embedded log, that server does it.
    Rebuild {
        #[command(flatten)]
        access: ServerAccess,
    },
    /// Dead letters: what consumers gave up on.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
        #[command(flatten)]
        access: ServerAccess,
    },
    /// Print a bearer token for a user id, signed with the configured secret.
    Token {
        /// The user id (the token's `sub`).
        user: String,
        /// How long the token is valid, e.g. `30d`, `12h`.
        #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
        ttl: std::time::Duration,
        #[arg(long, env = "IMAGEGRAM_JWT_SECRET", hide_env_values = true)]
        jwt_secret: Option<String>,
    },
}

/// The running server to ask when it holds the embedded log.
#[derive(Debug, Clone, Args)]
pub struct ServerAccess {
    /// The running server to ask, when it holds the embedded log
    /// (default: the address it recorded in the data dir).
    #[arg(long, env = "IMAGEGRAM_SERVER")]
    pub server: Option<String>,
    /// The secret the server signs tokens with (default: the data dir's).
    #[arg(long, env = "IMAGEGRAM_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

/// Where a role serves `GET /metrics`: never on the public API port.
#[derive(Debug, Clone, Args)]
pub struct MetricsSettings {
    /// Address to serve `GET /metrics` on, or `off` (default: loopback
    /// 127.0.0.1:9464 for `serve` and `ingest`, off for `process` and
    /// `project`). Give Prometheus an address it can reach, e.g. 0.0.0.0:9464.
    #[arg(long, env = "IMAGEGRAM_METRICS_LISTEN", value_parser = metrics_address)]
    pub metrics_listen: Option<MetricsListen>,
}

/// `--metrics-listen`: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListen {
    Off,
    On(std::net::SocketAddr),
}

/// Where the gateway roles serve their metrics unless told otherwise: on
/// loopback, so only the machine's own scraper (or an operator's tunnel)
/// reaches them.
pub const GATEWAY_METRICS: MetricsListen = MetricsListen::On(std::net::SocketAddr::V4(
    std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 9464),
));

impl MetricsSettings {
    /// The address to listen on, `default` when none was given.
    pub fn address(&self, default: MetricsListen) -> Option<std::net::SocketAddr> {
        match self.metrics_listen.unwrap_or(default) {
            MetricsListen::Off => None,
            MetricsListen::On(addr) => Some(addr),
        }
    }
}

fn metrics_address(text: &str) -> Result<MetricsListen, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(MetricsListen::Off);
    }
    text.parse()
        .map(MetricsListen::On)
        .map_err(|_| "expected an address such as 127.0.0.1:9464, or off".to_owned())
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The topic, e.g. `imagegram.comments` (without any `--topic-prefix`).
    #[arg(long)]
    pub topic: String,
    /// Start at this offset in every partition (default: the beginning).
    #[arg(long, conflicts_with = "from_time")]
    pub from_offset: Option<u64>,
    /// Only records appended at or after this time (RFC 3339).
    #[arg(long)]
    pub from_time: Option<humantime::Timestamp>,
    /// Stop before this offset in every partition (default: the end when the replay starts).
    #[arg(long, conflicts_with = "to_time")]
    pub to_offset: Option<u64>,
    /// Only records appended before this time (RFC 3339).
    #[arg(long)]
    pub to_time: Option<humantime::Timestamp>,
    #[arg(long, value_enum, default_value_t = ReplayFormat::Jsonl)]
    pub format: ReplayFormat,
    /// Write here instead of standard output.
    #[arg(long, short)]
    pub output: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub access: ServerAccess,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReplayFormat {
    /// One JSON object per line.
    Jsonl,
    /// An Avro object container file (schema `imagegram.replay.ReplayedEvent`).
    Avro,
}

#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// Show every dead letter, with where it came from and why.
    List {
        /// Only this consumer's (default: every consumer's).
        #[arg(long, value_enum)]
        consumer: Option<ConsumerName>,
    },
    /// Send dead letters not yet replayed back to their source topics.
    Replay {
        #[arg(long, value_enum)]
        consumer: Option<ConsumerName>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConsumerName {
    ImageConverter,
    ImageConverterSmall,
    Projector,
    Notifier,
}

impl ConsumerName {
    pub fn consumers(name: Option<ConsumerName>) -> Vec<imagegram_schemas::topics::Consumer> {
        use imagegram_schemas::topics::Consumer;
        match name {
            None => Consumer::ALL.to_vec(),
            Some(ConsumerName::ImageConverter) => vec![Consumer::ImageConverter],
            Some(ConsumerName::ImageConverterSmall) => vec![Consumer::SmallImageConverter],
            Some(ConsumerName::Projector) => vec![Consumer::Projector],
            Some(ConsumerName::Notifier) => vec![Consumer::Notifier],
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct HttpSettings {
    /// Address the HTTP API listens on (port 0 picks a free port).
    #[arg(long, env = "IMAGEGRAM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The base URL other gateways reach this one at, for forwarding pages
    /// of its feed snapshots (`http://10.0.0.5:8080`). Default: the listen
    /// address, unless it is a wildcard such as 0.0.0.0.
    #[arg(long, env = "IMAGEGRAM_ADVERTISE_URL", value_parser = base_url)]
    pub advertise_url: Option<String>,
    /// MiB the feed's caches may hold in all: a third each for ranking
    /// snapshots (paging), post views and rendered items. The ranking of
    /// every published post comes on top (see the README).
    #[arg(long, env = "IMAGEGRAM_FEED_MEMORY_MIB", default_value_t = 384)]
    pub feed_memory_mib: u64,
    /// HS256 secret for bearer tokens, at least 32 bytes; embedded default:
    /// made once in the data dir.
    #[arg(long, env = "IMAGEGRAM_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// An identity provider's JWKS URL: its RS256 and ES256 tokens are
    /// accepted besides HS256 ones.
    #[arg(long, env = "IMAGEGRAM_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The `iss` the provider's tokens must carry.
    #[arg(long, env = "IMAGEGRAM_JWT_ISSUER", requires = "jwks_url")]
    pub jwt_issuer: Option<String>,
    /// An `aud` the provider's tokens must carry.
    #[arg(long, env = "IMAGEGRAM_JWT_AUDIENCE", requires = "jwks_url")]
    pub jwt_audience: Option<String>,
    /// Connections open at once, at most; more wait in the kernel's
    /// backlog. Fewer when --connection-memory-mib binds first.
    #[arg(long, env = "IMAGEGRAM_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// MiB the open connections may hold in all, each reckoned at 20 KiB
    /// plus 2.5 times --max-head-bytes (what hyper's read buffer can grow
    /// to under a head just short of the cap): with 32 KiB heads, 384 MiB
    /// admits 3,932 connections.
    #[arg(long, env = "IMAGEGRAM_CONNECTION_MEMORY_MIB", default_value_t = 384)]
    pub connection_memory_mib: usize,
    /// Time to send a whole request head; also the most a kept-alive
    /// connection may sit idle between requests.
    #[arg(long, env = "IMAGEGRAM_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: std::time::Duration,
    /// The largest request head (request line and headers) in bytes;
    /// larger ones are answered 431 and their connection closed (8192 at
    /// least).
    #[arg(long, env = "IMAGEGRAM_MAX_HEAD_BYTES", default_value_t = imagegram_ingest::DEFAULT_HEAD_BYTES)]
    pub max_head_bytes: usize,
    /// The most a request body (an upload, a tus PATCH) may go without
    /// sending a byte before it is cut off.
    #[arg(long, env = "IMAGEGRAM_BODY_IDLE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub body_idle_timeout: std::time::Duration,
    /// Comments a user may add a minute (per gateway; 0: no limit).
    #[arg(long, env = "IMAGEGRAM_COMMENTS_PER_MINUTE", default_value_t = 120)]
    pub comments_per_minute: u32,
    /// Comments a user may delete a minute (per gateway; 0: no limit).
    #[arg(long, env = "IMAGEGRAM_DELETES_PER_MINUTE", default_value_t = 120)]
    pub deletes_per_minute: u32,
    /// Posts a user may make a minute (per gateway; 0: no limit).
    #[arg(long, env = "IMAGEGRAM_POSTS_PER_MINUTE", default_value_t = 30)]
    pub posts_per_minute: u32,
    /// Resumable uploads a user may start a minute (per gateway; 0: no limit).
    #[arg(long, env = "IMAGEGRAM_UPLOADS_PER_MINUTE", default_value_t = 30)]
    pub uploads_per_minute: u32,
    /// Reads a minute per user, or per client address without a token
    /// (per gateway; 0: no limit).
    #[arg(long, env = "IMAGEGRAM_READS_PER_MINUTE", default_value_t = 6000)]
    pub reads_per_minute: u32,
    /// Development sign-in: the web client may ask for a token for any
    /// name. Refused unless the listen address is loopback.
    #[arg(long, env = "IMAGEGRAM_DEV_SIGN_IN", default_value_t = false)]
    pub dev_sign_in: bool,
    /// Take the client's address from the last X-Forwarded-For entry (set
    /// it only behind a load balancer that adds one).
    #[arg(long, env = "IMAGEGRAM_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,
    /// Resumable uploads a user may have open at once (0: no limit).
    #[arg(long, env = "IMAGEGRAM_MAX_OPEN_UPLOADS", default_value_t = 20)]
    pub max_open_uploads: u64,
    /// Bytes of images a user may post a UTC day (0: no limit).
    #[arg(long, env = "IMAGEGRAM_DAILY_UPLOAD_BYTES", default_value_t = 1 << 30)]
    pub daily_upload_bytes: u64,
    /// How long an Idempotency-Key answers retries before it is pruned.
    #[arg(long, env = "IMAGEGRAM_IDEMPOTENCY_RETENTION", default_value = "24h", value_parser = humantime::parse_duration)]
    pub idempotency_retention: std::time::Duration,
    /// How long a processed-event mark is kept before it is pruned.
    #[arg(long, env = "IMAGEGRAM_PROCESSED_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub processed_retention: std::time::Duration,
    /// How old a blob nothing refers to, or a write never finished, must be
    /// before the sweep removes it.
    #[arg(long, env = "IMAGEGRAM_ORPHAN_AGE", default_value = "1h", value_parser = humantime::parse_duration)]
    pub orphan_age: std::time::Duration,
}

impl HttpSettings {
    /// Requests a minute per user and per address.
    pub fn rate_settings(&self) -> imagegram_ingest::RateSettings {
        imagegram_ingest::RateSettings {
            comments_per_minute: self.comments_per_minute,
            deletes_per_minute: self.deletes_per_minute,
            posts_per_minute: self.posts_per_minute,
            uploads_per_minute: self.uploads_per_minute,
            reads_per_minute: self.reads_per_minute,
            trust_forwarded_for: self.trust_forwarded_for,
        }
    }

    /// Quotas per user, and how long request records are kept.
    pub fn quotas(&self) -> imagegram_ingest::Quotas {
        imagegram_ingest::Quotas {
            open_uploads: self.max_open_uploads,
            daily_bytes: self.daily_upload_bytes,
            idempotency_retention: self.idempotency_retention,
            processed_retention: self.processed_retention,
            orphan_age: self.orphan_age,
        }
    }

    /// What bounds the gateway's connections.
    pub fn connection_limits(&self) -> imagegram_ingest::ConnectionLimits {
        imagegram_ingest::ConnectionLimits {
            max_connections: self.max_connections.max(1),
            memory_budget: self.connection_memory_mib.saturating_mul(1 << 20),
            header_read_timeout: self.header_read_timeout,
            body_idle_timeout: self.body_idle_timeout,
            max_head_bytes: self.max_head_bytes.max(imagegram_ingest::MIN_HEAD_BYTES),
        }
    }

    /// The identity provider, when a JWKS URL is set.
    pub fn identity(&self) -> Option<imagegram_ingest::IdentityProvider> {
        let jwks_url = self.jwks_url.clone().filter(|u| !u.is_empty())?;
        Some(imagegram_ingest::IdentityProvider {
            jwks_url,
            issuer: self.jwt_issuer.clone().filter(|i| !i.is_empty()),
            audience: self.jwt_audience.clone().filter(|a| !a.is_empty()),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Resize {
    /// Exactly 600x600: scale to cover, crop the centre.
    Cover,
    /// The whole picture inside 600x600.
    Fit,
}

#[derive(Debug, Clone, Args)]
pub struct ConvertSettings {
    #[arg(long, env = "IMAGEGRAM_RESIZE", value_enum, default_value_t = Resize::Cover)]
    pub resize: Resize,
    /// JPEG quality of served images, 1–100.
    #[arg(long, env = "IMAGEGRAM_JPEG_QUALITY", default_value_t = 85, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub jpeg_quality: u8,
    /// Largest original accepted, in megapixels.
    #[arg(long, env = "IMAGEGRAM_MAX_MEGAPIXELS", default_value_t = 100)]
    pub max_megapixels: u64,
    /// Conversions at once (default: one per core).
    #[arg(long, env = "IMAGEGRAM_CONVERT_WORKERS")]
    pub convert_workers: Option<usize>,
}

/// An `http://` or `https://` URL with a host and nothing after the port.
fn base_url(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text).map_err(|e| e.to_string())?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.path() == "/"
        && url.query().is_none();
    if plain {
        Ok(text.trim_end_matches('/').to_owned())
    } else {
        Err("expected a base URL such as http://10.0.0.5:8080".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn advertised_urls_are_base_urls() {
        assert_eq!(
            super::base_url("http://10.0.0.5:8080/").as_deref(),
            Ok("http://10.0.0.5:8080")
        );
        assert!(super::base_url("https://gw-1.internal").is_ok());
        for bad in ["10.0.0.5:8080", "ftp://x", "http://x/feed", "http://x/?a=1", ""] {
            assert!(super::base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metrics_listen_is_an_address_or_off() {
        use super::{metrics_address, MetricsListen, MetricsSettings, GATEWAY_METRICS};
        assert_eq!(metrics_address("OFF"), Ok(MetricsListen::Off));
        assert_eq!(
            metrics_address("0.0.0.0:9464"),
            Ok(MetricsListen::On(([0, 0, 0, 0], 9464).into()))
        );
        for bad in ["", "9464", "localhost:9464", "on"] {
            assert!(metrics_address(bad).is_err(), "{bad}");
        }
        let unset = MetricsSettings { metrics_listen: None };
        assert_eq!(
            unset.address(GATEWAY_METRICS),
            Some(([127, 0, 0, 1], 9464).into())
        );
        assert_eq!(unset.address(MetricsListen::Off), None);
        let off = MetricsSettings {
            metrics_listen: Some(MetricsListen::Off),
        };
        assert_eq!(off.address(GATEWAY_METRICS), None);
    }
}
