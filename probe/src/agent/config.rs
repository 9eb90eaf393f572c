//! `probe agent` flags (each also from `SONDE_PROBE_<FLAG>`) and the
//! configuration they turn into.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::client::Identity;
use super::deliver::DeliveryOptions;
use super::plan::PollOptions;
use crate::cli::NetArgs;
use crate::run::Runner;

/// Where the agent serves `/metrics`, `/livez` and `/readyz` by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9471";

/// `probe agent` flags; each also reads `SONDE_PROBE_<FLAG>`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Base URL of the scheduler, e.g. `https://sonde.example.com`; repeat
    /// it (or separate with commas) for replicas to fail over between.
    #[arg(long, env = "SONDE_PROBE_SCHEDULER", value_name = "URL", required = true,
          value_delimiter = ',', value_parser = parse_scheduler)]
    pub scheduler: Vec<Url>,
    /// This probe's name, as its token was created for.
    #[arg(long, env = "SONDE_PROBE_NAME")]
    pub name: String,
    /// File holding the probe's bearer token (surrounding whitespace ignored).
    #[arg(long, env = "SONDE_PROBE_TOKEN_FILE")]
    pub token_file: PathBuf,
    /// Directory of the durable result spool and the cached plan.
    #[arg(long, env = "SONDE_PROBE_SPOOL_DIR")]
    pub spool_dir: PathBuf,
    /// Most bytes of results kept; when full, the oldest are dropped.
    #[arg(long, env = "SONDE_PROBE_SPOOL_MAX_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub spool_max_bytes: u64,
    /// Address of `/metrics`, `/livez` and `/readyz`.
    #[arg(long, env = "SONDE_PROBE_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Most runs at once; a run that finds none free is skipped and counted.
    #[arg(long, env = "SONDE_PROBE_CONCURRENCY", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Run starts per second against one target host (0: unlimited).
    #[arg(long, env = "SONDE_PROBE_RATE_LIMIT", default_value_t = 50)]
    pub rate_limit: u32,
    /// Time runs in flight get to finish at shutdown, e.g. `10s`.
    #[arg(long, env = "SONDE_PROBE_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub grace: Duration,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten)]
    pub otlp: crate::otlp::OtlpArgs,
}

/// A scheduler's base URL: `http` or `https` with a host, nothing after
/// the path (a query or fragment would be lost on the API paths).
fn parse_scheduler(text: &str) -> Result<Url, String> {
    let text = text.trim();
    let expected = "expected a base URL like `https://sonde.example.com`";
    if text.is_empty() {
        return Err(format!("empty scheduler URL (a stray comma?); {expected}"));
    }
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL ({e}); {expected}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "`{text}` is not an http:// or https:// URL with a host; {expected}"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{text}` has a query or fragment, which the API paths would drop; {expected}"
        ));
    }
    Ok(url)
}

/// Each scheduler once, in the order first given.
fn distinct(urls: &[Url]) -> Vec<Url> {
    let mut seen = Vec::with_capacity(urls.len());
    for url in urls {
        if !seen.contains(url) {
            seen.push(url.clone());
        }
    }
    seen
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    scenarios::duration::parse(text).map_err(|e| e.to_string())
}

/// Everything [`serve`](super::serve) needs besides the runner.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// In the order tried; the first is used first.
    pub schedulers: Vec<Url>,
    pub identity: Identity,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub concurrency: usize,
    pub rate_limit: u32,
    pub grace: Duration,
    /// Extra CA certificates (PEM) trusted for the scheduler.
    pub scheduler_ca_pem: Option<Vec<u8>>,
    pub poll: PollOptions,
    pub delivery: DeliveryOptions,
}

/// Checks the flags and reads the token and CA files.
///
/// # Errors
/// A message naming the flag that cannot be used.
pub(super) fn configure(args: &AgentArgs) -> Result<(AgentConfig, Runner), String> {
    if args.scheduler.is_empty() {
        return Err("--scheduler is missing".into());
    }
    if args.name.trim().is_empty() {
        return Err("--name is empty".into());
    }
    let token = std::fs::read_to_string(&args.token_file).map_err(|e| {
        format!(
            "cannot read --token-file `{}`: {e}",
            args.token_file.display()
        )
    })?;
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(format!(
            "--token-file `{}` is empty",
            args.token_file.display()
        ));
    }
    let scheduler_ca_pem = match &args.net.ca_file {
        Some(p) => Some(
            std::fs::read(p)
                .map_err(|e| format!("cannot read --ca-file `{}`: {e}", p.display()))?,
        ),
        None => None,
    };
    let mut runner = crate::cli::runner(&args.net, true)?;
    runner.probe = args.name.clone();
    runner.traces = args.otlp.start(&runner.secrets)?;
    let config = AgentConfig {
        schedulers: distinct(&args.scheduler),
        identity: Identity {
            name: args.name.clone(),
            region: args.net.region.clone(),
            token,
        },
        spool_dir: args.spool_dir.clone(),
        spool_max_bytes: args.spool_max_bytes,
        concurrency: args.concurrency as usize,
        rate_limit: args.rate_limit,
        grace: args.grace,
        scheduler_ca_pem,
        poll: PollOptions::default(),
        delivery: DeliveryOptions::default(),
    };
    Ok((config, runner))
}
