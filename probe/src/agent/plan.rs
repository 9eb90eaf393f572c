//! Following the plan: long-polls `GET /api/v1/plan` with `If-None-Match`,
//! compiles each planned scenario, and publishes the result to the timer.
//!
//! The last plan is cached at `<spool-dir>/plan.json` (atomically written)
//! and loaded at start, so a probe restarted while the scheduler is down
//! keeps running what it ran before. On-demand requests are not cached:
//! they are answered once, by the process that saw them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rayon::prelude::*;
use scenarios::Scenario;
use scenarios::load::{MapFiles, parse_scenario};
use scenarios::wire::{Plan, PlannedScenario, RunRequest};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::backoff::Backoff;
use super::client::{CallError, PlanFetch};
use super::failover::{Round, Schedulers};
use super::metrics::Metrics;
use super::spool::{Spool, write_durably};

const CACHE_FILE: &str = "plan.json";
/// Scenarios one worker compiles at a time: a small plan compiles on one
/// thread.
const SCENARIOS_PER_TASK: usize = 128;

/// The plan in use, every scenario validated; `None` until one is loaded.
pub type PlanWatch = watch::Receiver<Option<Arc<CompiledPlan>>>;

/// A plan whose scenarios are compiled; invalid ones are left out.
#[derive(Debug, Clone, Default)]
pub struct CompiledPlan {
    pub revision: u64,
    /// By name.
    pub scenarios: BTreeMap<String, Arc<Scenario>>,
    pub run_now: Vec<RunRequest>,
    /// The scenarios on-demand requests carry with them (fleet test runs),
    /// by request id; invalid ones are left out.
    pub inline: BTreeMap<Uuid, Arc<Scenario>>,
}

impl CompiledPlan {
    /// Compiles every scenario of `plan`, reusing those of `previous` whose
    /// version did not change. Invalid or damaged scenarios are logged and
    /// skipped.
    pub fn compile(plan: &Plan, previous: Option<&CompiledPlan>) -> CompiledPlan {
        // On every core: a plan where thousands of scenarios changed at
        // once (the first plan, a branch switch) is mostly validation.
        let scenarios = plan
            .scenarios
            .par_iter()
            .with_min_len(SCENARIOS_PER_TASK)
            .filter_map(|planned| {
                let reused = previous
                    .and_then(|p| p.scenarios.get(&planned.name))
                    .filter(|s| s.version == planned.version)
                    .cloned();
                let scenario = reused.or_else(|| compile_one(planned).map(Arc::new))?;
                Some((planned.name.clone(), scenario))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        let inline = plan
            .run_now
            .iter()
            .filter_map(|request| {
                let planned = request.inline.as_ref()?;
                let reused = previous.and_then(|p| p.inline.get(&request.id)).cloned();
                let scenario = reused.or_else(|| compile_one(planned).map(Arc::new))?;
                Some((request.id, scenario))
            })
            .collect();
        CompiledPlan {
            revision: plan.revision,
            scenarios,
            run_now: plan.run_now.clone(),
            inline,
        }
    }
}

fn compile_one(planned: &PlannedScenario) -> Option<Scenario> {
    if planned.computed_version() != planned.version {
        tracing::error!(scenario = %planned.name, version = %planned.version,
            "Planned scenario does not match its version; skipped.");
        return None;
    }
    let files = planned
        .files
        .iter()
        .map(|(n, c)| (n.clone(), c.as_bytes().to_vec()))
        .collect();
    match parse_scenario(&planned.path, planned.source.as_bytes(), &MapFiles(files)) {
        Ok(s) if s.name == planned.name => Some(s),
        Ok(s) => {
            tracing::error!(scenario = %planned.name, compiled_name = %s.name,
                "Planned scenario compiles under another name; skipped.");
            None
        }
        Err(invalid) => {
            let diagnostics = invalid.render(scenarios::diagnostic::Style::Plain);
            tracing::error!(scenario = %planned.name, path = %planned.path, diagnostics = %diagnostics,
                "Planned scenario does not validate; skipped.");
            None
        }
    }
}

/// What `plan.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedPlan {
    pub etag: Option<String>,
    pub plan: Plan,
}

/// Reads the cached plan; `None` when there is none or it is unreadable
/// (logged: the scheduler will send a fresh one).
pub fn load_cache(spool_dir: &Path) -> Option<CachedPlan> {
    let path = spool_dir.join(CACHE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "Cannot read the cached plan.");
            return None;
        }
    };
    serde_json::from_slice(&bytes)
        .inspect_err(|e| tracing::warn!(file = %path.display(), error = %e, "Cached plan is damaged; ignored."))
        .ok()
}

/// Writes the plan cache atomically (without its on-demand requests).
///
/// # Errors
/// Any I/O error.
pub fn save_cache(spool_dir: &Path, etag: Option<&str>, plan: &Plan) -> std::io::Result<()> {
    let cached = CacheOut {
        etag,
        plan: PlanOut {
            revision: plan.revision,
            probe: &plan.probe,
            region: &plan.region,
            scenarios: &plan.scenarios,
            run_now: [],
        },
    };
    let bytes = serde_json::to_vec(&cached).map_err(std::io::Error::other)?;
    write_durably(spool_dir, &spool_dir.join(CACHE_FILE), &bytes)
}

/// [`CachedPlan`] as written, borrowing the plan: a plan of thousands of
/// scenarios is megabytes, not to be copied only to leave out `run_now`.
#[derive(Serialize)]
struct CacheOut<'a> {
    etag: Option<&'a str>,
    plan: PlanOut<'a>,
}

/// The fields of [`Plan`], by reference.
#[derive(Serialize)]
struct PlanOut<'a> {
    revision: u64,
    probe: &'a str,
    region: &'a str,
    scenarios: &'a [PlannedScenario],
    run_now: [RunRequest; 0],
}

/// How the plan is polled.
#[derive(Debug, Clone)]
pub struct PollOptions {
    /// How long the scheduler may hold a plan request (`?wait=`).
    pub wait: Duration,
    /// Least time between two requests, should a scheduler answer a
    /// long-poll at once.
    pub min_interval: Duration,
}

impl Default for PollOptions {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(25),
            min_interval: Duration::from_secs(1),
        }
    }
}

/// Fetches the plan and publishes every change.
#[derive(Debug)]
pub struct PlanPoller {
    schedulers: Schedulers,
    /// Index of the scheduler `etag` came from.
    polled: usize,
    spool: Arc<Spool>,
    spool_dir: PathBuf,
    metrics: Metrics,
    tx: watch::Sender<Option<Arc<CompiledPlan>>>,
    etag: Option<String>,
    options: PollOptions,
}

impl PlanPoller {
    /// A poller publishing to `tx`; loads the cached plan first, if any.
    pub fn new(
        schedulers: Schedulers,
        spool: Arc<Spool>,
        spool_dir: &Path,
        metrics: Metrics,
        tx: watch::Sender<Option<Arc<CompiledPlan>>>,
        options: PollOptions,
    ) -> Self {
        let mut poller = Self {
            schedulers,
            polled: 0,
            spool,
            spool_dir: spool_dir.to_path_buf(),
            metrics,
            tx,
            etag: None,
            options,
        };
        if let Some(cached) = load_cache(spool_dir) {
            tracing::info!(
                revision = cached.plan.revision,
                scenarios = cached.plan.scenarios.len(),
                "Running the cached plan until the scheduler answers."
            );
            poller.etag = cached.etag;
            poller.publish(&cached.plan);
        }
        poller
    }

    fn publish(&self, plan: &Plan) {
        let previous = self.tx.borrow().clone();
        let compiled = CompiledPlan::compile(plan, previous.as_deref());
        self.metrics.set_plan_version(compiled.revision);
        self.tx.send_replace(Some(Arc::new(compiled)));
    }

    /// Polls until `stop`; keeps the last plan through any failure.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut backoff = Backoff::scheduler();
        let mut round = Round::default();
        let mut switches = self.schedulers.switches();
        loop {
            // Before reading the current one, so a switch from here on
            // ends the request below.
            switches.mark_unchanged();
            let Some(used) = self.schedulers.current() else {
                return;
            };
            if used.index != self.polled {
                // Another process: its ETag and revision are its own, so
                // ask for its plan afresh rather than long-poll on a tag
                // it may never have given out.
                self.etag = None;
                self.polled = used.index;
            }
            let started = Instant::now();
            let fetched = tokio::select! {
                r = used.client.plan(
                    self.etag.as_deref(),
                    self.spool.len(),
                    self.spool.unwritable().is_some(),
                    self.options.wait,
                ) => r,
                // Delivery moved on: follow it rather than wait out the poll.
                _ = switches.changed() => continue,
                () = stop.cancelled() => return,
            };
            let pause = match fetched {
                Ok(fetch) => {
                    self.schedulers.answered(&used);
                    backoff.reset();
                    round.reset();
                    self.apply(fetch, used.client.display()).await;
                    (started + self.options.min_interval).saturating_duration_since(Instant::now())
                }
                Err(e) => {
                    log_failure(&e, used.client.display());
                    let failed_over = self.schedulers.failed(&used, &e);
                    match e {
                        CallError::RateLimited(Some(d)) => d,
                        _ if failed_over && !round.failed(&self.schedulers) => Duration::ZERO,
                        _ => backoff.next_delay(),
                    }
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    async fn apply(&mut self, fetch: PlanFetch, scheduler: &str) {
        let PlanFetch::Changed { plan, etag } = fetch else {
            return;
        };
        tracing::info!(
            scheduler,
            revision = plan.revision,
            scenarios = plan.scenarios.len(),
            run_now = plan.run_now.len(),
            "Plan received."
        );
        // Compiling thousands of scenarios and writing megabytes durably
        // take a while: on the blocking pool, so the runtime's workers keep
        // firing the timers due meanwhile.
        let plan = Arc::new(plan);
        let previous = self.tx.borrow().clone();
        let compiling = plan.clone();
        let compiled = tokio::task::spawn_blocking(move || {
            CompiledPlan::compile(&compiling, previous.as_deref())
        })
        .await;
        match compiled {
            Ok(compiled) => {
                self.metrics.set_plan_version(compiled.revision);
                self.tx.send_replace(Some(Arc::new(compiled)));
            }
            Err(e) => {
                tracing::error!(error = %e, "Compiling the plan failed; keeping the last plan.");
                return;
            }
        }
        let (dir, tag) = (self.spool_dir.clone(), etag.clone());
        let saved = tokio::task::spawn_blocking(move || save_cache(&dir, tag.as_deref(), &plan))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Err(e) = saved {
            tracing::warn!(error = %e, "Cannot cache the plan on disk.");
        }
        self.etag = etag;
    }
}

fn log_failure(e: &CallError, scheduler: &str) {
    match e {
        CallError::Auth(_) => {
            tracing::error!(scheduler, error = %e, "Plan request refused; keeping the last plan.")
        }
        _ => tracing::warn!(scheduler, error = %e, "Plan request failed; keeping the last plan."),
    }
}
