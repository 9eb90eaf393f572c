//! The command line: `scheduler [serve]`, `token create|list|revoke`,
//! `validate`, `notify test`, `migrate` and `health`. Exit codes: 0 success, 1 failure (or
//! unhealthy), 2 invalid input or configuration.

mod migrate;
mod notify;
mod token;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use scenarios::diagnostic::Style;
use tokio_util::sync::CancellationToken;

use crate::catalog::{Catalog, FileState};
use crate::config::Config;

/// Exit code of invalid input or configuration.
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "scheduler",
    version,
    about = "Sonde's scheduler: catalog, assignment, ingest, store, metrics and API"
)]
pub struct Cli {
    /// The configuration file (`scheduler.toml`).
    #[arg(long, global = true, env = "SONDE_SCHEDULER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the scheduler (the default).
    Serve,
    /// Create, list or revoke API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Check the configuration and every scenario; exit 0 valid, 2 invalid.
    Validate,
    /// Prove the paging path: send a test alert to the notifiers.
    Notify {
        #[command(subcommand)]
        action: NotifyAction,
    },
    /// Copy an SQLite store's history into the PostgreSQL store of
    /// `database_url` (resumable; run while no scheduler writes the file).
    Migrate {
        /// The SQLite store to copy from (opened, never written).
        #[arg(long)]
        from_sqlite: PathBuf,
    },
    /// GET a URL (default: this scheduler's /readyz); exit 0 on 2xx, else 1.
    Health {
        /// The URL to check.
        url: Option<String>,
        /// Extra PEM CA certificates to trust for an https URL.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Make a token, store its hash and print it once on stdout.
    Create {
        /// Probe name (or operator or viewer name with --operator, --viewer).
        #[arg(long)]
        name: String,
        /// The probe's region.
        #[arg(
            long,
            required_unless_present_any = ["operator", "viewer"],
            conflicts_with_all = ["operator", "viewer"]
        )]
        region: Option<String>,
        /// A token for the operator endpoints (run now, silences).
        #[arg(long, conflicts_with = "viewer")]
        operator: bool,
        /// A read-only token: the read API, the status page and /metrics
        /// (with `read_access = "token"`).
        #[arg(long)]
        viewer: bool,
        /// Print a `[[probe]]` entry for scheduler.toml instead of storing the hash.
        #[arg(long, conflicts_with_all = ["operator", "viewer"])]
        print_config: bool,
        /// With --print-config: write the token to this file (mode 0600)
        /// instead of stderr.
        #[arg(long, requires = "print_config")]
        token_file: Option<PathBuf>,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[arg(long)]
        name: Option<String>,
    },
    /// Revoke every active token of a name (or the token with that id).
    Revoke {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotifyAction {
    /// Send a test alert (`scope = "test"`) to each `[[notify]]` entry and
    /// print each answer; exit 0 when all accepted it, 1 otherwise.
    Test {
        /// Only the entry with this `name` (default names: the kind, or
        /// `webhook-2` when several share it).
        #[arg(long)]
        notifier: Option<String>,
    },
}

/// Runs the parsed command line.
pub async fn main(cli: Cli) -> ExitCode {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Health { url, ca_file } => health(url.as_deref(), ca_file.as_deref()).await,
        command => {
            let Some(path) = cli.config else {
                eprintln!("error: missing --config (or SONDE_SCHEDULER_CONFIG)");
                return ExitCode::from(EXIT_INVALID);
            };
            let config = match Config::load(&path) {
                Ok(config) => config,
                Err(e) => {
                    eprint!(
                        "{}",
                        e.render(Style::detect(std::io::stderr().is_terminal()))
                    );
                    return ExitCode::from(EXIT_INVALID);
                }
            };
            match command {
                Command::Serve => serve(config).await,
                Command::Validate => validate(&config),
                // Blocking store calls (a PostgreSQL client drives its own
                // runtime), so off the async threads.
                Command::Token { action } => {
                    tokio::task::spawn_blocking(move || token::token(&config, action))
                        .await
                        .unwrap_or(ExitCode::FAILURE)
                }
                Command::Migrate { from_sqlite } => {
                    tokio::task::spawn_blocking(move || migrate::migrate(&config, &from_sqlite))
                        .await
                        .unwrap_or(ExitCode::FAILURE)
                }
                Command::Notify {
                    action: NotifyAction::Test { notifier },
                } => notify::test(&config, notifier.as_deref()).await,
                Command::Health { .. } => ExitCode::FAILURE,
            }
        }
    }
}

/// JSON logs on stderr; `SONDE_LOG` (or `RUST_LOG`) filters, default `info`.
pub fn init_logging(default: &str) {
    let filter = std::env::var("SONDE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_owned());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .try_init();
}

async fn serve(config: Config) -> ExitCode {
    let shutdown = CancellationToken::new();
    tokio::spawn(on_signal(shutdown.clone()));
    match crate::run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Scheduler could not start.");
            ExitCode::FAILURE
        }
    }
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
async fn on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "Cannot listen for SIGTERM.");
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "Shutting down."),
        _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "Shutting down."),
    }
    shutdown.cancel();
}

async fn health(url: Option<&str>, ca_file: Option<&Path>) -> ExitCode {
    let url = url.unwrap_or(crate::health::DEFAULT_URL);
    match crate::health::check(url, ca_file).await {
        Ok(status) => {
            println!("{url}: {status}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "a one-off command: the catalog's load time is now"
)]
fn validate(config: &Config) -> ExitCode {
    let catalog = match crate::catalog::load(
        &config.scenarios_dir,
        &Catalog::default(),
        chrono::Utc::now(),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "error: cannot read `{}`: {e}",
                config.scenarios_dir.display()
            );
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let mut invalid = 0;
    for file in &catalog.files {
        if let FileState::Invalid { diagnostics } = &file.state {
            invalid += 1;
            eprint!("{diagnostics}");
        }
    }
    if invalid > 0 {
        eprintln!(
            "{invalid} of {} scenario files do not validate",
            catalog.files.len()
        );
        return ExitCode::from(EXIT_INVALID);
    }
    println!(
        "configuration valid; {} scenarios valid",
        catalog.scenarios.len()
    );
    ExitCode::SUCCESS
}
