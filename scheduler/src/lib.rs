//! Sonde's scheduler: the central service that knows the scenarios and the
//! probes, hands each probe its plan, ingests results durably and exposes
//! history and metrics.
//!
//! Module map, top layer first (each uses only those below it; see
//! `docs/architecture.md`):
//! - [`api`]: every HTTP handler (plan, results, read API, alerts,
//!   silences, run now, `/metrics`, health) and the axum router.
//! - [`status`]: the HTML status page, rendered from [`views`].
//! - [`views`]: the typed answers of the read API and the status page.
//! - [`ingest`]: result batches into the store and the alert engine in one
//!   transaction, once per result id.
//! - [`evaluate`]: runs the alert engine in store jobs (ticks, SLO and
//!   latency measurement, silences, the alerting series of a scrape).
//! - [`fleet`]: registered probes, liveness, plans, on-demand runs and
//!   their waiters.
//! - [`catalog`]: the scenario directory, validated, watched, reloaded.
//! - [`alert`]: the alert engine and the notifiers (no HTTP, no SQL).
//! - [`store`]: the storage interface and its SQLite backend (migrations,
//!   single writer with group commit, retention).
//! - [`auth`]: bearer tokens (hashes only) and who may call what.
//! - [`metrics`]: `/metrics` series and their encoding.
//! - [`assignment`]: rendezvous hashing of scenario × region onto probes.
//! - [`config`]: `scheduler.toml`, environment overrides, diagnostics.
//! - [`leadership`]: whether this replica sends notifications.
//! - [`clock`]: injectable time; [`clock_skew`]: results from a probe
//!   clock that runs ahead.
//! - [`app`]: the shared state and the background tasks;
//!   [`server`]: listener, TLS, graceful drain.
//! - [`cli`]: the command line behind the thin `main.rs`; [`health`]:
//!   `scheduler health`, the container health check.

// Tests may unwrap; the service must not.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod alert;
pub mod api;
pub mod app;
pub mod assignment;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod clock_skew;
pub mod config;
pub mod evaluate;
pub mod fleet;
pub mod health;
pub mod ingest;
pub mod leadership;
pub mod maintenance;
pub mod metrics;
pub mod replicas;
pub mod server;
pub mod status;
pub mod store;
pub mod views;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use app::{App, StartError};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;

/// Runs the scheduler until `shutdown` is cancelled, then drains requests
/// (at most `shutdown_grace`), stops the background tasks and closes the
/// store cleanly.
///
/// # Errors
/// When it cannot start: the listener, TLS files, store or scenario
/// directory.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), StartError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    run_on(listener, config, Arc::new(SystemClock), shutdown).await
}

/// [`run`] on a bound listener with a given clock.
///
/// # Errors
/// See [`run`].
pub async fn run_on(
    listener: TcpListener,
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let tls = config.tls.as_ref().map(server::tls_acceptor).transpose()?;
    let grace = config.shutdown_grace;
    let limits = config.server;
    let app = App::open(config, clock, shutdown.clone()).await?;
    let tasks = TaskTracker::new();
    if let Err(e) = app.spawn_background(&tasks) {
        shutdown.cancel();
        app.store.close().await;
        return Err(e);
    }
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(addr = %addr, tls = tls.is_some(), "Scheduler listening.");
    server::serve(
        listener,
        api::router(Arc::clone(&app)),
        tls,
        shutdown.clone(),
        grace,
        limits,
    )
    .await;
    tasks.close();
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!("Background tasks did not stop within the grace period.");
    }
    if let Err(e) = app.fleet.persist_all().await {
        tracing::warn!(error = %e, "Cannot record when probes were last seen.");
    }
    app.release_lease().await;
    app.store.close().await;
    tracing::info!("Scheduler stopped.");
    Ok(())
}
