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
//! - [`leader`]: holding the leader lease among replicas.
//! - `world`: the [`World`] snapshot; `sample`: the alerting series of a
//!   scrape.

mod leader;
pub mod maintenance;
mod measure;
mod sample;
pub mod silences;
mod world;

use std::sync::Arc;
use std::time::Duration;

use scenarios::wire::RunResult;
use tokio_util::sync::CancellationToken;

use crate::alert::{Effects, Engine, World};
use crate::app::App;
use crate::store::{StoreError, Tx};

pub use leader::{claim, hold};
pub use measure::measure;
pub use sample::sample;
pub use world::capture;

/// How often SLOs and latency objectives are recomputed in full.
pub const MEASURE_EVERY: Duration = Duration::from_secs(30);
/// An SLO with new results is recomputed at most this often.
const SLO_DIRTY_EVERY: Duration = Duration::from_secs(5);

/// Results queued by replicas that do not lead, evaluated per commit.
const PENDING_BATCH: usize = 500;

/// Runs `f` as one store job with a fresh [`World`], then asks for the
/// runs it decided on and wakes the notifiers. On failure the engine
/// reloads its state from the store.
///
/// The job is the leader's (`Store::write_as_leader`): on a replica that
/// does not lead it writes nothing and fails with
/// [`StoreError::Fenced`]. A lease holder first evaluates the results
/// other replicas queued, in the same transaction, so alert state never
/// depends on which replica received a result.
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
    let queued_elsewhere = app.leadership.is_leased();
    let written = app
        .store
        .write_as_leader(&app.leadership, app.clock.now_ms(), move |tx| {
            let (mut effects, elsewhere) = if queued_elsewhere {
                evaluate_pending(&engine, tx, &world)?
            } else {
                (Effects::new(), Vec::new())
            };
            let (value, more) = f(&engine, tx, &world)?;
            effects.extend(more);
            Ok(((value, elsewhere), effects))
        })
        .await;
    match written {
        Ok(((value, elsewhere), effects)) => {
            // The leader's /metrics carries every replica's results
            // (docs/deploy.md, "What /metrics shows").
            if !elsewhere.is_empty() {
                app.metrics.observe(&elsewhere, &app.catalog.current());
            }
            for (probe, request) in effects {
                tracing::info!(scenario = %request.scenario, probe = %probe, "Confirmation run requested.");
                app.fleet.queue_run(&probe, request);
            }
            if app.alerts.published() {
                app.notifications.wake();
            }
            Ok(value)
        }
        // Refused before anything ran: the engine is as it was.
        Err(e @ StoreError::Fenced(_)) => Err(e),
        Err(e) => {
            app.alerts.resync(&app.store, app.clock.now()).await;
            Err(e)
        }
    }
}

/// Feeds the engine the results other replicas queued, oldest first, and
/// takes them off the queue; hands them back for the leader's metrics.
fn evaluate_pending(
    engine: &Engine,
    tx: &dyn Tx,
    world: &World,
) -> Result<(Effects, Vec<RunResult>), StoreError> {
    let pending = tx.pending_results(PENDING_BATCH)?;
    if pending.is_empty() {
        return Ok((Effects::new(), pending));
    }
    let results: Vec<&RunResult> = pending.iter().collect();
    let effects = engine.apply_results(tx, world, &results)?;
    let ids: Vec<uuid::Uuid> = pending.iter().map(|r| r.id).collect();
    tx.evaluated(&ids)?;
    Ok((effects, pending))
}

/// Re-evaluates every alert now: liveness, silences, the catalog.
///
/// # Errors
/// Store errors.
pub async fn tick(app: &App) -> Result<(), StoreError> {
    commit(app, |engine, tx, world| Ok(((), engine.tick(tx, world)?))).await
}

/// The engine's background work until `stop`: every second re-evaluate
/// (liveness, silences, results other replicas queued) and recompute SLOs
/// with new results; every [`MEASURE_EVERY`] recompute every SLO and
/// latency objective. A replica that does not lead instead reloads the
/// leader's decisions every second, so its API and page answer alike.
pub async fn run(app: Arc<App>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_all: Option<tokio::time::Instant> = None;
    let mut last_dirty = tokio::time::Instant::now();
    let mut led = app.leadership.is_leader();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let leads = app.leadership.is_leader();
        if leads && !led && app.leadership.is_leased() {
            // The scenario series of /metrics are the leader's: a new
            // leader counts every replica's results from the store.
            if let Err(e) = app.rebuild_metrics().await {
                tracing::warn!(error = %e, "Cannot rebuild the metrics from the store.");
            }
        }
        led = leads;
        if !app.leadership.is_leader() {
            if let Err(e) = app.alerts.reload(&app.store, app.clock.now()).await {
                tracing::warn!(error = %e, "Cannot reload the alert state the leader stored.");
            }
            continue;
        }
        match self::tick(&app).await {
            Ok(()) | Err(StoreError::Fenced(_)) => {}
            Err(e) => tracing::error!(error = %e, "Alert evaluation failed."),
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
