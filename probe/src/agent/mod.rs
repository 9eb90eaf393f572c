//! `probe agent`: follows the scheduler's plan, runs each scenario on its
//! schedule, spools every result durably and delivers it at least once.
//!
//! Module map:
//! - `config`: the flags and the configuration they give.
//! - `client`: the scheduler protocol (plan long-poll, result batches);
//!   `failover`: which of several schedulers is in use.
//! - `plan`: polling, compiling and caching the plan on disk.
//! - `timing`: planned instants (stable offsets, cron); `schedule`: the
//!   timer with one task per scenario; `limits`: concurrency and per-host
//!   rate limits; `runs`: one run, from limits to the result channel.
//! - `intake`: the spool's writer; `spool`: the durable on-disk spool;
//!   `deliver`: batches, acks, back-off and quarantine.
//! - `metrics`, `server`: `/metrics`, `/livez`, `/readyz`.
//! - `clock`, `backoff`: injectable wall clock, jittered back-off.
//!
//! Shutdown (SIGTERM/SIGINT): stop scheduling, let runs in flight finish
//! within the grace (then cancel them and drop their results), spool
//! everything finished, try a last delivery, exit 0.

mod backoff;
mod client;
mod clock;
mod config;
mod deliver;
mod failover;
mod intake;
mod limits;
mod metrics;
mod plan;
mod runs;
mod schedule;
mod server;
mod spool;
mod timing;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use scenarios::wire::{Capabilities, Capability};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use backoff::Backoff;
pub use client::{CallError, ClientError, Identity, PlanFetch, SchedulerClient};
pub use clock::{Clock, SystemClock, TokioClock};
pub use config::{AgentArgs, AgentConfig, DEFAULT_LISTEN};
pub use deliver::{Attempt, Deliverer, DeliveryOptions};
pub use failover::{InUse, Round, Schedulers, fails_over};
pub use limits::{Limits, host_key};
pub use metrics::{DropReason, FailureReason, Metrics, SkipReason};
pub use plan::{
    CachedPlan, CompiledPlan, PlanPoller, PlanWatch, PollOptions, load_cache, save_cache,
};
pub use runs::{Execute, RunContext};
pub use schedule::Timer;
pub use spool::{Spool, is_disk_full};
pub use timing::{next_interval_slot, next_run, stable_offset};

use crate::cli::EXIT_INVALID;
use crate::run::Runner;

/// Results buffered between runs and the spool writer; a full buffer
/// makes runs wait.
const RESULT_BUFFER: usize = 256;
/// The last delivery gets at least this long, even when runs used the grace.
const MIN_FINAL_DELIVERY: Duration = Duration::from_secs(1);
/// Time queued trace spans get to be exported at exit.
const TRACE_FLUSH: Duration = Duration::from_secs(2);
/// Time open `/metrics` connections get to finish at exit.
const SERVER_DRAIN: Duration = Duration::from_secs(2);

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot open the spool in `{path}`: {source}")]
    Spool {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Entry point of `probe agent`: JSON logs, configuration, signals.
pub async fn run(args: AgentArgs) -> ExitCode {
    init_logging();
    let (config, runner) = match config::configure(&args) {
        Ok(c) => c,
        Err(message) => {
            tracing::error!(error = %message, "Invalid configuration.");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let listener = match TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(listen = %args.listen, error = %e, "Cannot listen.");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(on_signals(shutdown.clone()));
    let listen = listener
        .local_addr()
        .map_or_else(|_| args.listen.to_string(), |a| a.to_string());
    let schedulers: Vec<&str> = config.schedulers.iter().map(url::Url::as_str).collect();
    tracing::info!(schedulers = %schedulers.join(","), probe = %config.identity.name, region = %config.identity.region,
        listen = %listen, version = env!("CARGO_PKG_VERSION"), "Probe agent starting.");
    match serve(listener, config, runner, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Probe agent cannot start.");
            ExitCode::from(EXIT_INVALID)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Cancels `shutdown` on the first SIGTERM or SIGINT; a second one ends
/// the process at once.
async fn on_signals(shutdown: CancellationToken) {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        tracing::error!("Cannot listen for SIGTERM.");
        return;
    };
    let signal = async {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        }
    };
    let first = signal.await;
    tracing::info!(signal = first, "Shutting down.");
    shutdown.cancel();
    let second = async {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
        }
    };
    let again = second.await;
    tracing::warn!(signal = again, "Second signal; exiting now.");
    std::process::exit(1);
}

/// Runs the agent until `shutdown`, then drains: stops scheduling, waits
/// for runs in flight up to the grace (then cancels them), spools every
/// finished result and tries a last delivery.
///
/// # Errors
/// When the spool cannot be opened or the scheduler client set up.
pub async fn serve(
    listener: TcpListener,
    config: AgentConfig,
    runner: Runner,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let mut metrics = Metrics::new();
    let traces = runner.traces.clone();
    let browser = runner.browser.clone();
    if let Some(traces) = &traces {
        metrics.count_trace_spans(traces.counts());
    }
    metrics.init_series();
    let spool = open_spool(&config, &metrics).await?;
    // The flag is enough to announce the browser: should it fail to
    // start, its steps report that error, as they would without the
    // announcement.
    let capabilities = match &browser {
        Some(_) => Capabilities::of(Capability::Browser),
        None => Capabilities::NONE,
    };
    let clients = config
        .schedulers
        .iter()
        .map(|url| {
            SchedulerClient::new(url, &config.identity, config.scheduler_ca_pem.as_deref())
                .map(|c| c.announcing(capabilities))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let schedulers = Schedulers::new(clients, metrics.clone());

    let (plan_tx, plan_rx) = watch::channel(None);
    let poller = PlanPoller::new(
        schedulers.clone(),
        spool.clone(),
        &config.spool_dir,
        metrics.clone(),
        plan_tx,
        config.poll.clone(),
    );
    let stop_polling = CancellationToken::new();
    let poller = tokio::spawn(poller.run(stop_polling.clone()));

    let stop_server = CancellationToken::new();
    let app = server::router(metrics.registry(), plan_rx.clone(), spool.clone());
    let server = tokio::spawn(server::serve(listener, app, stop_server.clone()));

    let (results_tx, results_rx) = mpsc::channel(RESULT_BUFFER);
    let wake = Arc::new(Notify::new());
    let intake = tokio::spawn(intake::write_results(
        results_rx,
        spool.clone(),
        wake.clone(),
        metrics.clone(),
    ));
    let stop_delivery = CancellationToken::new();
    let deliverer = Deliverer::new(
        schedulers,
        spool.clone(),
        metrics.clone(),
        config.delivery.clone(),
    );
    let deliverer = tokio::spawn(deliverer.run(wake, stop_delivery.clone()));

    // Before the first scheduled run, so its phases time the network only.
    runner.net.warm_up([]).await;
    let runs = TaskTracker::new();
    let cancel_runs = CancellationToken::new();
    let ctx = RunContext {
        exec: Arc::new(runner),
        limits: Arc::new(Limits::new(config.concurrency, config.rate_limit)),
        metrics: metrics.clone(),
        results: results_tx,
        tracker: runs.clone(),
        cancel: cancel_runs.clone(),
        region: config.identity.region.clone(),
        probe: config.identity.name.clone(),
    };
    let stop_timer = CancellationToken::new();
    let timer =
        tokio::spawn(Timer::new(ctx, Arc::new(SystemClock), stop_timer.clone()).run(plan_rx));

    shutdown.cancelled().await;
    let deadline = Instant::now() + config.grace;
    stop_timer.cancel();
    stop_polling.cancel();
    let _ = timer.await;
    let _ = poller.await;
    drain_runs(&runs, &cancel_runs, deadline).await;
    // Every sender is gone with the timer and the runs: the writer drains.
    let _ = intake.await;
    stop_delivery.cancel();
    if let Ok(mut deliverer) = deliverer.await {
        let flushed = deliverer
            .flush(deadline.max(Instant::now() + MIN_FINAL_DELIVERY))
            .await;
        if flushed {
            tracing::info!("Every result delivered.");
        } else {
            tracing::warn!(
                results = spool.len(),
                "Results left in the spool for the next start."
            );
        }
    }
    if let Some(traces) = &traces {
        let left = traces.flush(TRACE_FLUSH).await;
        if left > 0 {
            tracing::warn!(
                spans = left,
                "Trace spans not exported at exit: the OTLP collector did not take them in time."
            );
        }
    }
    if let Some(browser) = &browser {
        browser.shutdown().await;
    }
    stop_server.cancel();
    // A scraper's keep-alive connection must not hold the exit.
    let _ = tokio::time::timeout(SERVER_DRAIN, server).await;
    tracing::info!("Probe agent stopped.");
    Ok(())
}

async fn open_spool(config: &AgentConfig, metrics: &Metrics) -> Result<Arc<Spool>, AgentError> {
    let (dir, max, m) = (
        config.spool_dir.clone(),
        config.spool_max_bytes,
        metrics.clone(),
    );
    let opened = tokio::task::spawn_blocking(move || Spool::open(&dir, max, m)).await;
    let spool_error = |source| AgentError::Spool {
        path: config.spool_dir.display().to_string(),
        source,
    };
    match opened {
        Ok(Ok(spool)) => Ok(Arc::new(spool)),
        Ok(Err(e)) => Err(spool_error(e)),
        Err(e) => Err(spool_error(std::io::Error::other(e))),
    }
}

async fn drain_runs(runs: &TaskTracker, cancel: &CancellationToken, deadline: Instant) {
    runs.close();
    if !runs.is_empty() {
        tracing::info!(in_flight = runs.len(), "Waiting for runs in flight.");
    }
    if tokio::time::timeout_at(deadline, runs.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            in_flight = runs.len(),
            "Grace over; cancelling runs in flight, their results are dropped."
        );
        cancel.cancel();
        runs.wait().await;
    }
}
