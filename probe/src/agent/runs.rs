//! One run as the agent starts it: wait for the target host's rate limit,
//! run under the scenario's deadline, count it, and hand the result to the
//! spool over a bounded channel (a full channel makes the run wait: back-
//! pressure, never a silent drop). A run cancelled at shutdown is dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use scenarios::Scenario;
use scenarios::wire::{Outcome, RunResult, StepResult};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use super::limits::{Limits, host_key};
use super::metrics::{Metrics, SkipReason};
use crate::run::{RunStart, RunTrigger, Runner, retry};

/// Time a run may take past its scenario's timeout before it is cut; the
/// runner keeps its own deadlines, so this only catches a runaway.
const OVERRUN_SLACK: Duration = Duration::from_secs(2);

/// Runs a scenario once. The agent's is the [`Runner`]; tests put a fake
/// here to check scheduling with a paused clock.
pub trait Execute: Send + Sync + 'static {
    fn execute<'a>(
        &'a self,
        scenario: &'a Scenario,
        trigger: RunTrigger,
    ) -> Pin<Box<dyn Future<Output = RunResult> + Send + 'a>>;
}

impl Execute for Runner {
    fn execute<'a>(
        &'a self,
        scenario: &'a Scenario,
        trigger: RunTrigger,
    ) -> Pin<Box<dyn Future<Output = RunResult> + Send + 'a>> {
        Box::pin(self.run(scenario, trigger))
    }
}

/// What every run shares.
#[derive(Clone)]
pub struct RunContext {
    pub exec: Arc<dyn Execute>,
    pub limits: Arc<Limits>,
    pub metrics: Metrics,
    pub results: mpsc::Sender<RunResult>,
    /// Every run task, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Cancelled when the shutdown grace is over.
    pub cancel: CancellationToken,
    pub region: String,
    /// `--name`, for results the agent has to write itself.
    pub probe: String,
}

impl std::fmt::Debug for RunContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunContext")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Whether a scenario's run is going: the run's task holds a mark until it
/// ends. The timer asks this rather than keeping the run's `JoinHandle`,
/// which would keep a finished task's memory (the size of the whole run
/// future) for every scenario until its next run.
#[derive(Debug, Default)]
pub struct InFlight(Arc<()>);

impl InFlight {
    pub fn busy(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }

    fn mark(&self) -> Arc<()> {
        Arc::clone(&self.0)
    }
}

impl RunContext {
    /// Starts a run holding `slot`; it gives up (counted) when the target
    /// host's rate limit would hold it past `start_by`. A failed run of a
    /// scenario with `[alert] retry` is run again in the same task after
    /// the delay, so the schedule counts its retries as the run still going
    /// and other scenarios' schedules do not wait for them.
    pub fn spawn(
        &self,
        scenario: Arc<Scenario>,
        trigger: RunTrigger,
        slot: OwnedSemaphorePermit,
        start_by: Instant,
        in_flight: &InFlight,
    ) -> JoinHandle<()> {
        let ctx = self.clone();
        let in_flight = in_flight.mark();
        self.tracker.spawn(async move {
            let _in_flight = in_flight;
            let (mut trigger, mut slot, mut start_by) = (trigger, slot, start_by);
            loop {
                let Some(result) = ctx.attempt(&scenario, trigger, slot, start_by).await else {
                    return;
                };
                let next = retry::next_attempt(&scenario, &result);
                ctx.finished(result).await;
                let Some((next, delay)) = next else { return };
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = ctx.cancel.cancelled() => return,
                }
                start_by = Instant::now() + scenario.timeout;
                let free = tokio::select! {
                    s = ctx.limits.slot_by(start_by) => s,
                    () = ctx.cancel.cancelled() => return,
                };
                let Some(free) = free else {
                    tracing::warn!(scenario = %scenario.name, attempt = next.attempt,
                        "Retry skipped: no concurrency slot came free in time.");
                    ctx.metrics
                        .run_skipped(&scenario.name, SkipReason::concurrency);
                    return;
                };
                (trigger, slot) = (next, free);
            }
        })
    }

    /// One attempt holding `slot`: `None` when it was cancelled at shutdown
    /// or skipped for the host's rate limit (both logged, the skip counted).
    async fn attempt(
        &self,
        scenario: &Scenario,
        trigger: RunTrigger,
        slot: OwnedSemaphorePermit,
        start_by: Instant,
    ) -> Option<RunResult> {
        let host = host_key(scenario, &self.region);
        let run = async {
            if !self.limits.host_ready_by(&host, start_by).await {
                return None;
            }
            Some(self.guarded(scenario, trigger).await)
        };
        let result = tokio::select! {
            r = run => {
                // The slot bounds running scenarios, not results queued for the spool.
                drop(slot);
                r
            }
            () = self.cancel.cancelled() => {
                tracing::warn!(scenario = %scenario.name, "Run cancelled at shutdown; its result is dropped.");
                return None;
            }
        };
        if result.is_none() {
            tracing::warn!(scenario = %scenario.name, host = %host,
                "Run skipped: the host's rate limit would delay it past its deadline.");
            self.metrics
                .run_skipped(&scenario.name, SkipReason::rate_limit);
        }
        result
    }

    /// Starts an on-demand run: it waits for a concurrency slot up to the
    /// scenario's timeout instead of being skipped at once.
    #[expect(
        clippy::disallowed_methods,
        reason = "an on-demand run is scheduled when the probe takes the request, in real time"
    )]
    pub fn spawn_requested(&self, scenario: Arc<Scenario>, request: Uuid) {
        let ctx = self.clone();
        self.tracker.spawn(async move {
            let start_by = Instant::now() + scenario.timeout;
            let trigger = RunTrigger {
                request: Some(request),
                ..RunTrigger::scheduled(Utc::now())
            };
            let slot = tokio::select! {
                s = ctx.limits.slot_by(start_by) => s,
                () = ctx.cancel.cancelled() => return,
            };
            match slot {
                Some(slot) => {
                    let in_flight = InFlight::default();
                    let _ = ctx
                        .spawn(scenario, trigger, slot, start_by, &in_flight)
                        .await;
                }
                None => {
                    tracing::warn!(scenario = %scenario.name, request = %request,
                        "Requested run skipped: no concurrency slot came free in time.");
                    ctx.metrics
                        .run_skipped(&scenario.name, SkipReason::concurrency);
                }
            }
        });
    }

    async fn guarded(&self, scenario: &Scenario, trigger: RunTrigger) -> RunResult {
        let limit = scenario.timeout + OVERRUN_SLACK;
        match tokio::time::timeout(limit, self.exec.execute(scenario, trigger)).await {
            Ok(result) => result,
            Err(_) => {
                tracing::error!(scenario = %scenario.name, limit_ms = limit.as_millis() as u64,
                    "Run overran its deadline; cut and reported as a timeout.");
                overrun_result(scenario, trigger, self, limit)
            }
        }
    }

    async fn finished(&self, result: RunResult) {
        self.metrics.run_finished(&result);
        tracing::debug!(scenario = %result.scenario, id = %result.id, outcome = result.outcome.as_str(),
            duration_ms = result.duration_ms, "Run finished.");
        let (scenario, id) = (result.scenario.clone(), result.id);
        if self.results.send(result).await.is_err() {
            tracing::error!(scenario = %scenario, id = %id, "Result lost: the spool no longer takes results.");
        }
    }
}

/// The result of a run that had to be cut: every step skipped.
#[expect(
    clippy::disallowed_methods,
    reason = "a cut run reports when it really started, as the runner would have"
)]
fn overrun_result(
    scenario: &Scenario,
    trigger: RunTrigger,
    ctx: &RunContext,
    limit: Duration,
) -> RunResult {
    let started_at = Utc::now() - chrono::Duration::from_std(limit).unwrap_or_default();
    let steps = scenario
        .steps
        .iter()
        .map(|s| StepResult::skipped(s.name.clone(), s.kind()))
        .collect();
    RunStart::at(trigger, started_at).result(
        scenario,
        &ctx.probe,
        &ctx.region,
        limit,
        Outcome::Timeout,
        steps,
    )
}
