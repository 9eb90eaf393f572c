//! Evaluation: the glue that runs the alert engine over the store. Every
//! change of alert state runs as one store job with a fresh [`World`]
//! (the time, the catalog, which probes are live), so an alert's new
//! state, its timeline and its events commit together; after the commit
//! the confirmation runs the engine decided on are queued on the fleet
//! and the notifiers are woken.
//!
//! - [`commit`]: one store job through the engine (ingest uses it to
//!   store results and evaluate them in one transaction).
//! - [`tick`], [`run`]: re-evaluation every second (liveness, silences)
//!   and the periodic SLO and latency measurements ([`measure`]).
//! - [`silences`]: creating and expiring silences.
//! - `world`: the [`World`] snapshot; `sample`: the alerting series of a
//!   scrape.

pub mod maintenance;
mod measure;
mod sample;
pub mod silences;
mod world;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::alert::{Effects, Engine, World};
use crate::app::App;
use crate::store::{StoreError, Tx};

pub use measure::measure;
pub use sample::sample;
pub use world::capture;

/// How often SLOs and latency objectives are recomputed in full.
pub const MEASURE_EVERY: Duration = Duration::from_secs(30);
/// An SLO with new results is recomputed at most this often.
const SLO_DIRTY_EVERY: Duration = Duration::from_secs(5);

/// Runs `f` as one store job with a fresh [`World`], then asks for the
/// runs it decided on and wakes the notifiers. On failure the engine
/// reloads its state from the store.
///
/// # Errors
/// `f`'s error or the store's.
pub async fn commit<T, F>(app: &App, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Engine, &dyn Tx, &World) -> Result<(T, Effects), StoreError> + Send + 'static,
{
    let engine = Arc::clone(&app.alerts);
    let world = capture(app);
    match app.store.write(move |tx| f(&engine, tx, &world)).await {
        Ok((value, effects)) => {
            for (probe, request) in effects {
                tracing::info!(scenario = %request.scenario, probe = %probe, "Confirmation run requested.");
                app.fleet.enqueue_run(&probe, request);
            }
            if app.alerts.published() {
                app.notifications.wake();
            }
            Ok(value)
        }
        Err(e) => {
            app.alerts.resync(&app.store, app.clock.now()).await;
            Err(e)
        }
    }
}

/// Re-evaluates every alert now: liveness, silences, the catalog.
///
/// # Errors
/// Store errors.
pub async fn tick(app: &App) -> Result<(), StoreError> {
    commit(app, |engine, tx, world| Ok(((), engine.tick(tx, world)?))).await
}

/// The engine's background work until `stop`: every second re-evaluate
/// (liveness, silences) and recompute SLOs with new results; every
/// [`MEASURE_EVERY`] recompute every SLO and latency objective.
pub async fn run(app: Arc<App>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_all: Option<tokio::time::Instant> = None;
    let mut last_dirty = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = self::tick(&app).await {
            tracing::error!(error = %e, "Alert evaluation failed.");
        }
        let now = tokio::time::Instant::now();
        let all = last_all.is_none_or(|at| now.duration_since(at) >= MEASURE_EVERY);
        if all || now.duration_since(last_dirty) >= SLO_DIRTY_EVERY {
            if let Err(e) = measure(&app, all).await {
                tracing::error!(error = %e, "SLO and latency measurement failed.");
            }
            last_dirty = now;
            if all {
                last_all = Some(now);
            }
        }
    }
}
