//! `scheduler.toml`: reading, environment overrides, validation.
//!
//! Every top-level scalar key can be set as `SONDE_SCHEDULER_<KEY>` (which
//! wins over the file); any string in the file may use `{{env.NAME}}`;
//! unknown keys are errors; relative paths resolve against the directory
//! of the config file. Every problem is reported in one pass.

mod compile;
mod database;
mod error;
mod maintenance;
mod notify;
mod raw;
mod settings;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use compile::TRACE_ID;
pub use database::{DatabaseUrl, SslMode};
pub use error::{ConfigError, Problem};
pub use notify::{
    DEFAULT_HEARTBEAT, MIN_HEARTBEAT, NotifierKind, NotifyEntry, SECRET_PREFIX, SecretError,
    WebhookSecret,
};
pub use settings::EnvLookup;

/// Default `listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9470";
/// Default `retention`.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// Default `probe_silence`.
pub const DEFAULT_PROBE_SILENCE: Duration = Duration::from_secs(90);
/// Default `max_batch_bytes`: 4 MiB.
pub const DEFAULT_MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Default `ingest_rate`, results per second per probe.
pub const DEFAULT_INGEST_RATE: u32 = 2_000;
/// Default `shutdown_grace`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Default `max_clock_skew`.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// Name of the SQLite file under `data_dir`.
pub const STORE_FILE: &str = "sonde.db";

/// The validated configuration of a scheduler.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the API, `/metrics` and the probe protocol listen.
    pub listen: SocketAddr,
    /// How users reach the scheduler (`https://sonde.example.com`), for
    /// the links in alerts; `None`: the listen address.
    pub public_url: Option<String>,
    /// `trace_url`: a run's trace in the operator's tracing UI, with
    /// `{trace_id}` where the id goes; linked from alerts and the page.
    pub trace_url: Option<String>,
    /// Holds the SQLite store (when there is no `database_url`).
    pub data_dir: PathBuf,
    /// `database_url`: the store is this PostgreSQL database instead.
    pub database_url: Option<DatabaseUrl>,
    /// Every `*.toml` below it is a scenario.
    pub scenarios_dir: PathBuf,
    /// Results older than this are deleted.
    pub retention: Duration,
    /// A probe with no plan request or result for this long is down.
    pub probe_silence: Duration,
    /// Certificate chain and key (PEM) for TLS on the listener.
    pub tls: Option<TlsFiles>,
    /// Largest accepted `POST /api/v1/results` body.
    pub max_batch_bytes: usize,
    /// Results per second each probe may deliver.
    pub ingest_rate: u32,
    /// Results a probe may deliver at once above its rate.
    pub ingest_burst: u32,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// A result that started further ahead of the scheduler's clock than
    /// this is rejected: the probe's clock is wrong, and a run "from the
    /// future" would hide every real run after it.
    pub max_clock_skew: Duration,
    /// Whether the read API, the status page and `/metrics` need a token.
    pub read_access: ReadAccess,
    /// Probe tokens declared in the file.
    pub probes: Vec<ProbeEntry>,
    /// Notification targets (used by the alert engine).
    pub notify: Vec<NotifyEntry>,
    /// `[server]`: the listener's limits.
    pub server: ServerLimits,
    /// `[[maintenance]]` windows (ids `config/NAME`).
    pub maintenance: Vec<crate::maintenance::Window>,
    /// This scheduler's name among replicas (`sonde_scheduler_leader`):
    /// `replica`, else the host name.
    pub replica: String,
}

/// `read_access`: who may read the API, the status page and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadAccess {
    /// Anyone who can reach the listener (the default).
    #[default]
    Open,
    /// A viewer or operator token, as Bearer or HTTP Basic.
    Token,
}

impl ReadAccess {
    /// The value as written in scheduler.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadAccess::Open => "open",
            ReadAccess::Token => "token",
        }
    }

    /// The mode written as `value`, if it is one.
    pub fn parse(value: &str) -> Option<ReadAccess> {
        [ReadAccess::Open, ReadAccess::Token]
            .into_iter()
            .find(|mode| mode.as_str() == value)
    }
}

/// `[server]`: what one client may hold of the listener, so slow or idle
/// clients cannot starve probes and `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Open connections at most (also kept 64 below the process's open-file
    /// limit); at the cap the connection that has waited longest for a
    /// request is closed to admit the new one.
    pub max_connections: usize,
    /// A request head must arrive within this, from the connection's start
    /// or the end of its previous response.
    pub header_timeout: Duration,
    /// A connection without a request in flight is closed after this.
    pub idle_timeout: Duration,
    /// A request's body must arrive within this.
    pub request_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// PEM files for the listener's TLS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A `[[probe]]` entry: a probe token known by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeEntry {
    pub name: String,
    pub region: String,
    /// Lowercase hex SHA-256 of the token.
    pub token_sha256: String,
}

impl Config {
    /// Reads and validates `path`, with overrides from the process
    /// environment.
    ///
    /// # Errors
    /// Every problem found, ready to render.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok();
        Self::load_with_env(path, &lookup)
    }

    /// [`Config::load`] with an injected environment.
    ///
    /// # Errors
    /// Every problem found, ready to render.
    pub fn load_with_env(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let source = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::general(&shown, format!("cannot read `{shown}`: {e}")))?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::parse(&shown, &source, &base, env)
    }

    /// Validates config text; relative paths resolve against `base`.
    ///
    /// # Errors
    /// Every problem found, ready to render.
    pub fn parse(
        path: &str,
        source: &str,
        base: &Path,
        env: EnvLookup<'_>,
    ) -> Result<Config, ConfigError> {
        compile::compile(source, base, env).map_err(|problems| ConfigError {
            path: path.to_owned(),
            source: source.to_owned(),
            problems,
        })
    }

    /// Where people reach this scheduler: `public_url`, else the listen
    /// address with the scheme it serves. Alert links start with it.
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{}", self.listen))
    }

    /// The SQLite file of the store.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join(STORE_FILE)
    }

    /// A configuration with defaults for everything but the directories
    /// (tests and embedding).
    pub fn with_dirs(data_dir: impl Into<PathBuf>, scenarios_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 9470)),
            public_url: None,
            trace_url: None,
            data_dir: data_dir.into(),
            database_url: None,
            scenarios_dir: scenarios_dir.into(),
            retention: DEFAULT_RETENTION,
            probe_silence: DEFAULT_PROBE_SILENCE,
            tls: None,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            ingest_rate: DEFAULT_INGEST_RATE,
            ingest_burst: default_burst(DEFAULT_INGEST_RATE),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            read_access: ReadAccess::Open,
            probes: Vec::new(),
            notify: Vec::new(),
            maintenance: Vec::new(),
            server: ServerLimits::default(),
            replica: host_name(),
        }
    }
}

/// Default `ingest_burst`: five seconds' worth, so a probe draining a
/// backlog sends full batches.
pub fn default_burst(rate: u32) -> u32 {
    rate.saturating_mul(5).max(500)
}

/// The machine's host name, the default `replica`; `scheduler` where the
/// kernel does not tell it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| is_valid_replica(name))
        .unwrap_or_else(|| "scheduler".to_owned())
}

/// Whether `name` can be a `replica`: a metric label value and a word in
/// logs, so 1 to 253 printable characters without spaces.
pub fn is_valid_replica(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.chars().all(|c| c.is_ascii_graphic())
}

/// Whether `name` is a valid probe name or region (they become metric
/// labels): `[a-z0-9][a-z0-9_.-]{0,62}`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && name.len() <= 63
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
}

#[cfg(test)]
mod tests;
