//! The `probe` command line. Every flag also reads from the environment as
//! `SONDE_PROBE_<FLAG>`; invalid input exits 2 after a diagnostic.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use scenarios::diagnostic::Style;

use crate::net::{Net, NetConfig, TargetGuard};
use crate::run::{RunTrigger, Runner, retry};
use crate::secrets::Secrets;

/// Exit code for invalid input or configuration.
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "probe",
    version,
    about = "Sonde probe: runs synthetic journeys and measures every phase"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios once and report each step (exit 0 pass, 1 fail, 2 invalid).
    Run(RunArgs),
    /// Validate scenario files or directories (exit 0 valid, 2 invalid).
    Validate {
        /// Files, or directories searched for `*.toml`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run one scenario many times in-process and print throughput and CPU.
    Bench(crate::bench::BenchArgs),
    /// Follow the scheduler's plan: run scenarios on schedule, spool and deliver results.
    Agent(crate::agent::AgentArgs),
    /// Convert Hurl files to scenario TOML (exit 2 when a construct has no equivalent).
    Import(ImportArgs),
    /// GET a URL (default: this agent's own /readyz); exit 0 on 2xx, else 1.
    Health {
        /// Default: `/readyz` on the agent's `--listen` address, read from
        /// `SONDE_PROBE_LISTEN` as the agent does (127.0.0.1:9471 without it).
        url: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    /// JUnit XML, printed once every scenario has run.
    Junit,
    /// TAP version 13, printed once every scenario has run.
    Tap,
}

/// Options shared by every command that runs scenarios.
#[derive(Debug, clap::Args)]
pub struct NetArgs {
    /// Region reported in results and sent as `X-Sonde-Region`.
    #[arg(long, env = "SONDE_PROBE_REGION", default_value = "local")]
    pub region: String,
    /// Directory with one file per secret (the file name is the secret's name).
    #[arg(long, env = "SONDE_PROBE_SECRETS_DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// PEM file of extra trusted CA certificates, added to the webpki roots.
    #[arg(long, env = "SONDE_PROBE_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// DNS server (`IP:PORT`) for target names, instead of the system's.
    #[arg(long, env = "SONDE_PROBE_RESOLVER")]
    pub resolver: Option<std::net::SocketAddr>,
    /// Refuse targets in loopback, private, link-local, metadata and the
    /// other inner ranges (always on in `probe agent`).
    #[arg(long, env = "SONDE_PROBE_TARGET_GUARD")]
    pub target_guard: bool,
    /// A range the target guard lets through (repeatable), e.g. 127.0.0.0/8;
    /// turns the guard on in `probe run`.
    #[arg(
        long = "allow-target",
        env = "SONDE_PROBE_ALLOW_TARGET",
        value_delimiter = ','
    )]
    pub allow_target: Vec<ipnet::IpNet>,
    /// How many bytes of a failed step's response body its evidence keeps
    /// (redacted first, then cut on a character boundary).
    #[arg(
        long,
        env = "SONDE_PROBE_EVIDENCE_BYTES",
        default_value_t = scenarios::wire::EVIDENCE_BODY_BYTES
    )]
    pub evidence_bytes: usize,
    /// DevTools endpoint (`ws://HOST:PORT/devtools/browser/…`) of a running
    /// headless Chromium for `browser` steps; `ws://HOST:PORT` alone looks
    /// the endpoint up at each connect (a sidecar's changes when it restarts).
    #[arg(
        long,
        env = "SONDE_PROBE_BROWSER",
        value_name = "ws://…",
        conflicts_with = "browser_path"
    )]
    pub browser: Option<String>,
    /// Chromium binary to start (once, on the first browser step) for
    /// `browser` steps, e.g. /usr/bin/chromium.
    #[arg(long, env = "SONDE_PROBE_BROWSER_PATH", value_name = "PATH")]
    pub browser_path: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files, run in the order given.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, env = "SONDE_PROBE_FORMAT", value_enum, default_value = "text")]
    format: Format,
    /// Scheduler URL: every region's live probe runs the files once,
    /// without adding them to the catalog (`POST /api/v1/runs`).
    #[arg(long, value_name = "URL", requires = "token_file")]
    fleet: Option<url::Url>,
    /// File with an operator token, for `--fleet`.
    #[arg(long, value_name = "FILE", requires = "fleet")]
    token_file: Option<PathBuf>,
    /// Comma-separated regions to run in with `--fleet` (default: every
    /// region with a live probe, or the scenario's `regions`).
    #[arg(long, value_name = "A,B", requires = "fleet")]
    regions: Option<String>,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    otlp: crate::otlp::OtlpArgs,
}

/// How long `probe run` waits for its traces to be sent before it exits.
const TRACE_FLUSH: std::time::Duration = std::time::Duration::from_secs(2);

/// Entry point of the `probe` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { paths } => validate(&paths),
        Command::Run(args) => block_on(run(args)),
        Command::Bench(args) => block_on(crate::bench::run(args)),
        Command::Health { url } => match url.map_or_else(own_readyz, Ok) {
            Ok(url) => block_on(health(url)),
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        },
        Command::Agent(args) => block_on(crate::agent::run(args)),
        Command::Import(args) => import(&args),
    }
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Hurl files; without `--out`, exactly one.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Directory to write `NAME.toml` into, one per file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// `NAME=VALUE`, a Hurl variable given at run time; becomes a `[vars]` entry.
    #[arg(long = "variable")]
    variables: Vec<String>,
}

fn import(args: &ImportArgs) -> ExitCode {
    if args.out.is_none() && args.files.len() > 1 {
        eprintln!(
            "error: {} files without --out; give --out DIR to write one scenario per file",
            args.files.len()
        );
        return ExitCode::from(EXIT_INVALID);
    }
    let mut vars = Vec::new();
    for v in &args.variables {
        let Some((k, val)) = v.split_once('=') else {
            eprintln!("error: --variable `{v}` is not NAME=VALUE");
            return ExitCode::from(EXIT_INVALID);
        };
        vars.push((k.to_string(), val.to_string()));
    }
    let mut code = ExitCode::SUCCESS;
    for path in &args.files {
        let source = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot read `{}`: {e}", path.display());
                code = ExitCode::from(EXIT_INVALID);
                continue;
            }
        };
        let imported = crate::import::import(path, &source, &vars);
        let shown = path.display().to_string();
        for p in &imported.problems {
            eprintln!("{}", p.render(&shown));
        }
        if !imported.problems.is_empty() {
            code = ExitCode::from(EXIT_INVALID);
        }
        if let Some(invalid) = &imported.invalid {
            eprintln!(
                "error: the scenario made from `{shown}` does not validate (a converter bug):\n{invalid}"
            );
            return ExitCode::from(1);
        }
        let Some(toml) = imported.toml else {
            eprintln!("error: nothing in `{shown}` converted");
            code = ExitCode::from(EXIT_INVALID);
            continue;
        };
        match &args.out {
            Some(dir) => {
                let target = dir.join(format!("{}.toml", imported.name));
                if let Err(e) =
                    std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&target, toml))
                {
                    eprintln!("error: cannot write `{}`: {e}", target.display());
                    return ExitCode::from(1);
                }
                println!("wrote {}", target.display());
            }
            None => print!("{toml}"),
        }
    }
    code
}

fn block_on<F: std::future::Future<Output = ExitCode>>(f: F) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::from(1)
        }
    }
}

fn style() -> Style {
    Style::detect(std::io::stderr().is_terminal())
}

/// Loads every file (directories expanded), printing diagnostics of those
/// that do not validate. `None` when any is invalid.
pub fn load_all(paths: &[PathBuf]) -> Option<Vec<scenarios::ScenarioFile>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            match scenarios::load::scenario_paths(path) {
                Ok(found) => files.extend(found),
                Err(e) => {
                    eprintln!("error: cannot list `{}`: {e}", path.display());
                    return None;
                }
            }
        } else {
            files.push(path.clone());
        }
    }
    let results = scenarios::load::check_dependency_cycles(scenarios::load::check_unique_names(
        files.iter().map(|p| scenarios::load_file(p)).collect(),
    ));
    let mut ok = Vec::new();
    let mut invalid = 0;
    for r in results {
        match r {
            Ok(f) => ok.push(f),
            Err(e) => {
                invalid += 1;
                eprint!("{}", e.render(style()));
            }
        }
    }
    if invalid > 0 {
        eprintln!(
            "error: {invalid} of {} scenario files do not validate",
            files.len()
        );
        return None;
    }
    Some(ok)
}

fn validate(paths: &[PathBuf]) -> ExitCode {
    match load_all(paths) {
        Some(files) => {
            for f in &files {
                println!(
                    "ok: {} ({}, {} steps)",
                    f.path,
                    f.scenario.name,
                    f.scenario.steps.len()
                );
            }
            ExitCode::SUCCESS
        }
        None => ExitCode::from(EXIT_INVALID),
    }
}

/// Builds the network layer and runner from the shared flags.
///
/// # Errors
/// A message for a CA file, secrets directory or resolver that cannot be used.
pub fn runner(args: &NetArgs, guard_default: bool) -> Result<Runner, String> {
    let extra_roots_pem = match &args.ca_file {
        Some(p) => vec![
            std::fs::read(p)
                .map_err(|e| format!("cannot read --ca-file `{}`: {e}", p.display()))?,
        ],
        None => Vec::new(),
    };
    let secrets = Secrets::load(args.secrets_dir.as_deref())
        .map_err(|e| format!("cannot read --secrets-dir: {e}"))?;
    let config = NetConfig {
        resolver: args.resolver,
        guard: TargetGuard {
            // Opening a range only means something with the guard on: any
            // `--allow-target` turns it on, so the rest stays refused.
            enabled: guard_default || args.target_guard || !args.allow_target.is_empty(),
            allow: args.allow_target.clone(),
        },
        extra_roots_pem,
        user_agent: crate::run::USER_AGENT.to_string(),
    };
    let net = Net::new(config).map_err(|e| format!("cannot set up the network: {e}"))?;
    let browser = browser_source(args)?.map(crate::browser::Browsers::new);
    Ok(Runner {
        net: Arc::new(net),
        secrets: Arc::new(secrets),
        region: args.region.clone(),
        probe: hostname(),
        evidence_bytes: args.evidence_bytes,
        traces: None,
        browser,
    })
}

/// `--browser` or `--browser-path`, checked before anything runs.
fn browser_source(args: &NetArgs) -> Result<Option<crate::browser::BrowserSource>, String> {
    use crate::browser::BrowserSource;
    if let Some(url) = &args.browser {
        let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "ws" | "wss"));
        if !ok {
            return Err(format!(
                "--browser `{url}`: expected a DevTools URL such as ws://127.0.0.1:9222/devtools/browser/…"
            ));
        }
        return Ok(Some(BrowserSource::Connect(url.clone())));
    }
    let Some(path) = &args.browser_path else {
        return Ok(None);
    };
    if !path.is_file() {
        return Err(format!(
            "--browser-path `{}`: no such file (expected a Chromium binary)",
            path.display()
        ));
    }
    Ok(Some(BrowserSource::Launch(path.clone())))
}

/// The host name, `{{probe}}` under `probe run`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "local".into())
}

async fn run(args: RunArgs) -> ExitCode {
    if let (Some(url), Some(token_file)) = (args.fleet.clone(), args.token_file.clone()) {
        let target = crate::fleet_run::FleetTarget {
            url,
            token_file,
            regions: args.regions.clone(),
        };
        return crate::fleet_run::run(target, &args.files, args.format).await;
    }
    let Some(files) = load_all(&args.files) else {
        return ExitCode::from(EXIT_INVALID);
    };
    let runner = match runner(&args.net, false).and_then(|mut r| {
        r.traces = args.otlp.start(&r.secrets)?;
        Ok(r)
    }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    runner.net.warm_up(files.iter().map(|f| &f.scenario)).await;
    let all_passed = match runner.browser.clone() {
        // A started Chromium must not outlive an interrupted run.
        Some(browser) => tokio::select! {
            passed = run_files(&runner, &files, args.format) => passed,
            signal = interrupted() => {
                browser.shutdown().await;
                eprintln!("stopped by {signal}");
                return ExitCode::from(130);
            }
        },
        None => run_files(&runner, &files, args.format).await,
    };
    if let Some(browser) = &runner.browser {
        browser.shutdown().await;
    }
    if let Some(traces) = &runner.traces {
        let left = traces.flush(TRACE_FLUSH).await;
        if left > 0 {
            eprintln!(
                "warning: {left} trace spans not exported: the OTLP collector did not take them within {}s",
                TRACE_FLUSH.as_secs()
            );
        }
    }
    if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs every file (each scenario's retries too), printing each attempt in
/// `format`; whether every scenario's last attempt passed.
async fn run_files(runner: &Runner, files: &[scenarios::ScenarioFile], format: Format) -> bool {
    let mut all_passed = true;
    let mut stdout = std::io::stdout().lock();
    // The CI formats are one document over every scenario: each scenario's
    // last attempt, the one that decides the exit code.
    let mut last_attempts = Vec::new();
    for file in files {
        let mut trigger = RunTrigger::now();
        // Every attempt is printed; the last one decides the exit code.
        let last = loop {
            let result = runner.run(&file.scenario, trigger).await;
            let printed = match format {
                Format::Json => serde_json::to_string(&result)
                    .map(|line| line + "\n")
                    .unwrap_or_default(),
                Format::Text => crate::report::text(&result) + "\n",
                Format::Junit | Format::Tap => String::new(),
            };
            let _ = stdout.write_all(printed.as_bytes());
            let _ = stdout.flush();
            let Some((next, delay)) = retry::next_attempt(&file.scenario, &result) else {
                break result;
            };
            tokio::time::sleep(delay).await;
            trigger = next;
        };
        all_passed &= last.outcome.is_success();
        last_attempts.push(last);
    }
    let document = match format {
        Format::Junit => crate::report::junit::junit(&last_attempts),
        Format::Tap => crate::report::tap::tap(&last_attempts),
        Format::Text | Format::Json => String::new(),
    };
    let _ = stdout.write_all(document.as_bytes());
    let _ = stdout.flush();
    all_passed
}

/// The first SIGINT or SIGTERM, by name.
async fn interrupted() -> &'static str {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

/// The agent's own `/readyz`: where `SONDE_PROBE_LISTEN` (the agent's
/// `--listen`) says it listens, so a container that moves the port needs
/// no health-check override. An unspecified address (`0.0.0.0`, `::`) is
/// asked on loopback.
fn own_readyz() -> Result<String, String> {
    let text = std::env::var("SONDE_PROBE_LISTEN")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| crate::agent::DEFAULT_LISTEN.to_owned());
    let mut addr: std::net::SocketAddr = text.trim().parse().map_err(|_| {
        format!(
            "SONDE_PROBE_LISTEN `{text}` is not an address; expected IP:PORT, like `0.0.0.0:9471`"
        )
    })?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok(format!("http://{addr}/readyz"))
}

async fn health(url: String) -> ExitCode {
    match get_status(&url).await {
        Ok(status) if (200..300).contains(&status) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("unhealthy: {url} answered {status}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            ExitCode::from(1)
        }
    }
}

/// Status of a plain GET, through the probe's own network layer.
async fn get_status(url: &str) -> Result<u16, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    let config = NetConfig {
        resolver: None,
        guard: TargetGuard {
            enabled: false,
            allow: Vec::new(),
        },
        extra_roots_pem: Vec::new(),
        user_agent: crate::run::USER_AGENT.to_string(),
    };
    let net = Arc::new(Net::new(config).map_err(|e| e.to_string())?);
    let call = crate::net::HttpCall {
        method: "GET",
        url: parsed,
        headers: vec![("User-Agent".into(), crate::run::USER_AGENT.into())],
        body: bytes::Bytes::new(),
        version: None,
        tls: Default::default(),
        ca_pem: None,
        max_body_bytes: 1 << 20,
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    net.session()
        .send(call, deadline)
        .await
        .map(|r| r.status)
        .map_err(|f| f.message)
}
