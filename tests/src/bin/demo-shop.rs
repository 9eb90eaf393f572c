//! `demo-shop`: the demo target of the local fleet and the example journeys.
//!
//! `demo-shop [--http A] [--https A] [--dns A] [--state-dir D]` serves until
//! SIGTERM or Ctrl-C; `demo-shop health [URL]` checks a running shop (for
//! container HEALTHCHECKs) and exits 0 when it answers 2xx, 1 otherwise.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sonde_tests::shop::{self, SHOP_HOST, ShopOptions};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Parser)]
#[command(
    name = "demo-shop",
    version,
    about = "Sonde's demo shop",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ShopOptions,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the shop (the default).
    Serve(ShopOptions),
    /// GET URL (default: the shop's own /healthz); exit 0 on 2xx, 1 otherwise.
    Health {
        /// URL to check.
        url: Option<String>,
        /// Address of the shop's plain HTTP listener, for the default URL.
        #[arg(long, env = "SHOP_HTTP", default_value = "127.0.0.1:9480")]
        http: std::net::SocketAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Some(Command::Health { url, http }) => {
            let url = url.unwrap_or_else(|| format!("http://{http}/healthz"));
            runtime.block_on(health(&url))
        }
        Some(Command::Serve(options)) => runtime.block_on(serve(options)),
        None => runtime.block_on(serve(cli.serve)),
    }
}

async fn health(url: &str) -> ExitCode {
    let client = sonde_tests::TestClient::new().timeout(Duration::from_secs(3));
    match client.get(url).await {
        Ok(response) if response.status.is_success() => ExitCode::SUCCESS,
        Ok(response) => {
            eprintln!("unhealthy: {url} answered {}", response.status);
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("unhealthy: {url}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(options: ShopOptions) -> ExitCode {
    init_logs();
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "Demo shop failed.");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: ShopOptions) -> anyhow::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let running = shop::start(options).await?;
    print_addresses(&running)?;
    tracing::info!(http = %running.http_addr(), https = %running.https_addr(), dns = %running.dns_addr(), "Demo shop listening.");
    tokio::select! {
        _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "Shutting down."),
        _ = interrupt.recv() => tracing::info!(signal = "SIGINT", "Shutting down."),
    }
    if running.stop().await {
        tracing::info!("Demo shop stopped.");
    } else {
        tracing::warn!("Demo shop stopped with requests still in flight.");
    }
    Ok(())
}

fn print_addresses(running: &shop::RunningShop) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "demo-shop http  {}", running.http_url("/"))?;
    writeln!(
        out,
        "demo-shop https https://{SHOP_HOST}:{}/ (CA {})",
        running.https_addr().port(),
        running.ca_path().display()
    )?;
    writeln!(
        out,
        "demo-shop dns   {} ({SHOP_HOST} A 127.0.0.1, AAAA ::1)",
        running.dns_addr()
    )?;
    writeln!(out, "demo-shop ready")?;
    out.flush()
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
