//! Alerting: per scenario × region state from stored results, scopes
//! (regional, global, probe, latency, SLO), confirmation runs, silences,
//! and the notifiers that deliver each change of state.
//!
//! - [`model`]: what an alert is ([`Alert`], [`AlertEvent`]).
//! - `state`: the up/down state machine; [`slo`]: budget and burn-rate
//!   math; `latency`: the latency objective; `silence`: silences.
//! - `engine`, `reconcile`, `desired`, `world`: the engine, which turns
//!   states into alerts inside store jobs; `measure`: SLO and latency
//!   measurements over stored runs, and the metrics.
//! - [`persist`]: its tables; [`outbox`]: the alert events for notifiers.
//! - `silencing`: silences put and expired; [`notify`]: the notifiers.
//!
//! # The outbox contract (engine → notifiers)
//!
//! Every [`AlertEvent`] (firing or resolved) is a row of `alert_events`,
//! written in the same transaction as the alert's change of state, so a
//! crash or restart never loses a page nor emits one twice. Ids grow in
//! commit order. Notifiers:
//! - read with [`outbox::pending_after`]`(conn, cursor, limit)` (also
//!   `crate::store::alert_events`) from a cursor they keep durably in
//!   their own tables, and advance it only after handling an event;
//! - skip events with `muted = true` (a silence matched; recorded, not
//!   sent) but move the cursor past them;
//! - are woken through `App::notifications` (`Dispatcher::wake`) after
//!   every commit that wrote events, or wait on [`Engine::subscribe_events`]
//!   (the newest committed event id), rather than only polling;
//! - for periodic re-sends (Alertmanager) list the firing alerts with
//!   [`outbox::firing`];
//! - never write `alert_events`; a notifier added to the config may start
//!   at [`outbox::last_id`].
//!
//! An alert's `id` is stable for its life (`checkout/region/eu-west-1`,
//! `checkout/global`, `probe/p-eu-1`, `region/eu-west-1`,
//! `checkout/latency`, `checkout/slo/page`, `checkout/slo/ticket`) and is
//! reused by the next incident of the same kind once the last resolved.
//! A regional alert grouped under its global alert emits nothing; when
//! the global alert resolves while the region is still down, its firing
//! event follows. A resolve is emitted only for an alert whose firing was.

mod desired;
mod engine;
mod hold;
mod latency;
mod measure;
pub mod model;
pub mod notify;
pub mod outbox;
pub mod persist;
mod reconcile;
mod silence;
mod silencing;
pub mod slo;
mod state;
mod world;

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use scenarios::wire::RunResult;
use tokio_util::sync::CancellationToken;

pub use engine::RECENT_SILENCES;
pub use engine::{Engine, region_state};
pub use measure::{measure, sample, slo_status_at};
pub use model::{Alert, AlertEvent, AlertStatus, Confirmation, Scope};
pub use persist::{StoredAlert, TimelineEntry};
pub use silence::{NewSilence, Silence};
pub use silencing::{expire_silence, put_silence};
pub use slo::SloStatus;
pub use state::{Health, RegionHealth, RegionState};
pub use world::World;

use crate::app::App;
use crate::store::StoreError;
use crate::store::results::{self, ResultRow};

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
pub(crate) async fn commit<T, F>(app: &App, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Engine, &Connection, &World) -> Result<(T, engine::Effects), StoreError>
        + Send
        + 'static,
{
    let engine = Arc::clone(&app.alerts);
    let world = World::capture(app);
    match app.store.write(move |conn| f(&engine, conn, &world)).await {
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

/// Stores results (once per id) and feeds the new ones to the engine in
/// the same transaction; says for each whether it was new. The ingest
/// path, and the way tests feed results.
///
/// # Errors
/// Store errors (nothing is stored then).
pub async fn record(
    app: &App,
    rows: Vec<ResultRow>,
    results: Vec<RunResult>,
) -> Result<(Vec<bool>, Vec<RunResult>), StoreError> {
    let now = app.clock.now_ms();
    let (inserted, results) = commit(app, move |engine, conn, world| {
        let inserted = results::insert(conn, &rows, now)?;
        let new: Vec<&RunResult> = results
            .iter()
            .zip(&inserted)
            .filter(|(_, new)| **new)
            .map(|(r, _)| r)
            .collect();
        let effects = engine.apply_results(conn, world, &new)?;
        Ok(((inserted, results), effects))
    })
    .await?;
    for (r, new) in results.iter().zip(&inserted) {
        if *new {
            app.fleet.result_stored(r);
        }
    }
    Ok((inserted, results))
}

/// [`record`] for results that need no row built by the caller (tests).
///
/// # Errors
/// Store errors, or a result that cannot be serialized.
pub async fn record_results(app: &App, results: Vec<RunResult>) -> Result<Vec<bool>, StoreError> {
    let rows = results
        .iter()
        .map(|r| {
            serde_json::to_string(r)
                .map(|json| ResultRow::from_raw(r, &json))
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(record(app, rows, results).await?.0)
}

/// Re-evaluates every alert now: liveness, silences, the catalog.
///
/// # Errors
/// Store errors.
pub async fn tick(app: &App) -> Result<(), StoreError> {
    commit(app, |engine, conn, world| {
        Ok(((), engine.tick(conn, world)?))
    })
    .await
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
