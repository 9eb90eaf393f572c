//! The timer: one task per planned scenario, firing at its planned
//! instants (see `timing`), plus the plan's on-demand requests.
//!
//! A run that would overlap the scenario's previous run, or find every
//! concurrency slot taken, is skipped and counted. A changed scenario is
//! picked up for its next run; a removed one stops (a run in flight ends
//! on its own). Sleeping is on tokio's clock, so the whole timer runs
//! under a paused test clock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use scenarios::Scenario;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::clock::Clock;
use super::metrics::SkipReason;
use super::plan::{CompiledPlan, PlanWatch};
use super::runs::{InFlight, RunContext};
use super::timing::{next_run, same_schedule};
use crate::run::RunTrigger;

/// Starts runs as the plan says, until stopped.
#[derive(Debug)]
pub struct Timer {
    ctx: RunContext,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
}

/// How many scenarios a plan change added, changed and removed.
#[derive(Debug, Default)]
struct Change {
    added: usize,
    changed: usize,
    removed: usize,
}

struct ScenarioTask {
    tx: watch::Sender<Arc<Scenario>>,
    handle: JoinHandle<()>,
}

impl Timer {
    /// A timer whose runs go through `ctx`; `stop` ends scheduling (runs in
    /// flight are the caller's to wait for, through `ctx.tracker`).
    pub fn new(ctx: RunContext, clock: Arc<dyn Clock>, stop: CancellationToken) -> Self {
        Self { ctx, clock, stop }
    }

    /// Follows `plan` until `stop`; returns once every scenario task ended.
    pub async fn run(self, mut plan: PlanWatch) {
        let mut tasks: HashMap<String, ScenarioTask> = HashMap::new();
        let mut handled: HashSet<Uuid> = HashSet::new();
        loop {
            let current = plan.borrow_and_update().clone();
            if let Some(current) = current {
                let change = self.reconcile(&current, &mut tasks);
                tracing::info!(
                    revision = current.revision,
                    scenarios = tasks.len(),
                    added = change.added,
                    changed = change.changed,
                    removed = change.removed,
                    "Plan in force."
                );
                self.start_requested(&current, &mut handled);
                self.ctx.limits.tidy();
            }
            tokio::select! {
                changed = plan.changed() => if changed.is_err() { break },
                () = self.stop.cancelled() => break,
            }
        }
        for (_, task) in tasks.drain() {
            drop(task.tx);
            let _ = task.handle.await;
        }
    }

    /// Brings the tasks in line with `plan`: an unchanged scenario's task
    /// is left alone, a changed one is handed its new version (and keeps
    /// its slot unless the schedule changed). Per-scenario lines are debug
    /// only: a plan of thousands would otherwise log thousands of lines on
    /// every reload.
    fn reconcile(&self, plan: &CompiledPlan, tasks: &mut HashMap<String, ScenarioTask>) -> Change {
        let mut change = Change::default();
        tasks.retain(|name, task| {
            let keep = plan.scenarios.contains_key(name);
            if !keep {
                tracing::debug!(scenario = %name, "Scenario left the plan; no more runs.");
                task.handle.abort();
                change.removed += 1;
            }
            keep
        });
        for (name, scenario) in &plan.scenarios {
            match tasks.get(name) {
                Some(task) if Arc::ptr_eq(&task.tx.borrow(), scenario) => {}
                Some(task) => {
                    tracing::debug!(scenario = %name, version = %scenario.version, "Scenario changed; the next run uses it.");
                    task.tx.send_replace(scenario.clone());
                    change.changed += 1;
                }
                None => {
                    change.added += 1;
                    let (tx, rx) = watch::channel(scenario.clone());
                    let handle = tokio::spawn(scenario_loop(
                        self.ctx.clone(),
                        self.clock.clone(),
                        rx,
                        self.stop.clone(),
                    ));
                    tasks.insert(name.clone(), ScenarioTask { tx, handle });
                }
            }
        }
        change
    }

    /// Starts each on-demand request once. Ids are remembered while the
    /// plan lists them, so the memory stays as small as the plan.
    fn start_requested(&self, plan: &CompiledPlan, handled: &mut HashSet<Uuid>) {
        let listed: HashSet<Uuid> = plan.run_now.iter().map(|r| r.id).collect();
        handled.retain(|id| listed.contains(id));
        for request in &plan.run_now {
            if !handled.insert(request.id) {
                continue;
            }
            let scenario = match &request.inline {
                Some(_) => plan.inline.get(&request.id),
                None => plan.scenarios.get(&request.scenario),
            };
            match scenario {
                Some(scenario) => {
                    tracing::info!(scenario = %request.scenario, request = %request.id, "Requested run starting.");
                    self.ctx.spawn_requested(scenario.clone(), request.id);
                }
                None => tracing::warn!(scenario = %request.scenario, request = %request.id,
                    "Requested run for a scenario not in the plan (or invalid); ignored."),
            }
        }
    }
}

/// Fires one scenario at its planned instants until stopped or removed.
async fn scenario_loop(
    ctx: RunContext,
    clock: Arc<dyn Clock>,
    mut rx: watch::Receiver<Arc<Scenario>>,
    stop: CancellationToken,
) {
    let mut scenario = rx.borrow_and_update().clone();
    let mut next = planned_after(&scenario, &ctx.region, clock.now());
    let in_flight = InFlight::default();
    loop {
        let wake = match next {
            Some(at) => tokio::time::sleep_until(clock.deadline_for(at)),
            None => tokio::time::sleep(std::time::Duration::from_secs(86_400)),
        };
        tokio::select! {
            () = wake => {}
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
                let updated = rx.borrow_and_update().clone();
                if !same_schedule(&updated.schedule, &scenario.schedule) {
                    next = planned_after(&updated, &ctx.region, clock.now());
                }
                scenario = updated;
                continue;
            }
            () = stop.cancelled() => return,
        }
        let Some(at) = next else { continue };
        fire(&ctx, &clock, &scenario, at, &in_flight);
        next = following(&scenario, &ctx.region, at, clock.now());
    }
}

fn planned_after(scenario: &Scenario, region: &str, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let next = next_run(&scenario.schedule, &scenario.name, region, after);
    if next.is_none() {
        tracing::warn!(scenario = %scenario.name, "Schedule never fires again; no runs.");
    }
    next
}

/// The run after the one planned `at`; when the probe fell behind by more
/// than a period (a suspended machine), the next one after `now`.
fn following(
    scenario: &Scenario,
    region: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let next = next_run(&scenario.schedule, &scenario.name, region, at)?;
    if next > now {
        return Some(next);
    }
    tracing::warn!(scenario = %scenario.name, behind_ms = (now - at).num_milliseconds(),
        "Fell behind the schedule; missed runs are not made up.");
    planned_after(scenario, region, now)
}

fn fire(
    ctx: &RunContext,
    clock: &Arc<dyn Clock>,
    scenario: &Arc<Scenario>,
    at: DateTime<Utc>,
    in_flight: &InFlight,
) {
    if in_flight.busy() {
        tracing::warn!(scenario = %scenario.name, "Run skipped: the previous run is still going.");
        ctx.metrics.run_skipped(&scenario.name, SkipReason::overlap);
        return;
    }
    let Some(slot) = ctx.limits.try_slot() else {
        tracing::warn!(scenario = %scenario.name, "Run skipped: every concurrency slot is taken.");
        ctx.metrics
            .run_skipped(&scenario.name, SkipReason::concurrency);
        return;
    };
    let start_by = clock.deadline_for(at + scenario.timeout);
    let trigger = RunTrigger::scheduled(at);
    // The handle is not kept: see `InFlight`.
    drop(ctx.spawn(scenario.clone(), trigger, slot, start_by, in_flight));
}
