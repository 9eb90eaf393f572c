//! The agent's own metrics (docs/probe.md, "`probe agent`"): exactly
//! these names and labels, all in this one place.
//! Per-scenario results are exposed by the scheduler, not here.

use exposition::{RunDurations, RunSample};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use scenarios::wire::RunResult;

/// Why a planned run did not start.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum SkipReason {
    /// The previous run of the scenario was still going.
    overlap,
    /// Every concurrency slot was taken.
    concurrency,
    /// The target host's rate limit would have delayed it past its deadline.
    rate_limit,
}

/// Why a delivery attempt failed.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum FailureReason {
    unreachable,
    rate_limited,
    server_error,
    /// The scheduler refused the request or some of its results (4xx,
    /// `rejected` in an ack).
    rejected,
}

/// Why results were given up on.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum DropReason {
    spool_full,
    /// The spool's disk was full: the oldest made room for a new one, or
    /// a new one found nothing left to drop.
    disk_full,
    quarantined,
    corrupt,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    scenario: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SkipLabels {
    scenario: String,
    reason: SkipReason,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    reason: FailureReason,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DropLabels {
    reason: DropReason,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SchedulerLabels {
    scheduler: String,
}

/// Every agent metric; cheap to clone (handles share their values).
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    runs: Family<RunLabels, Counter>,
    run_durations: Family<RunLabels, RunDurations>,
    skipped: Family<SkipLabels, Counter>,
    spool_results: Gauge,
    spool_bytes: Gauge,
    spool_disk_full: Gauge,
    delivered: Counter,
    delivery_failures: Family<FailureLabels, Counter>,
    dropped: Family<DropLabels, Counter>,
    plan_version: Gauge,
    scheduler_up: Family<SchedulerLabels, Gauge>,
    scheduler_failovers: Counter,
    trace_spans: crate::otlp::SpanCounts,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Exposes the OTLP exporter's span counts; called before the metrics
    /// are shared.
    pub fn count_trace_spans(&mut self, counts: crate::otlp::SpanCounts) {
        self.trace_spans = counts;
    }

    /// A registry holding these metrics. Counters are registered without
    /// `_total`, which the library appends.
    pub fn registry(&self) -> Registry {
        let mut r = Registry::default();
        r.register(
            "sonde_agent_runs",
            "Runs this probe finished",
            self.runs.clone(),
        );
        r.register(
            "sonde_agent_run_duration_seconds",
            "Duration of the runs this probe finished; each bucket's exemplar is the trace_id of its newest run",
            self.run_durations.clone(),
        );
        r.register(
            "sonde_agent_skipped_runs",
            "Planned runs that did not start",
            self.skipped.clone(),
        );
        r.register(
            "sonde_agent_spool_results",
            "Results waiting for delivery",
            self.spool_results.clone(),
        );
        r.register(
            "sonde_agent_spool_bytes",
            "Size of the spool on disk",
            self.spool_bytes.clone(),
        );
        r.register(
            "sonde_agent_spool_disk_full",
            "1 while the spool's disk is full and new results replace the oldest",
            self.spool_disk_full.clone(),
        );
        r.register(
            "sonde_agent_delivered",
            "Results acknowledged by the scheduler",
            self.delivered.clone(),
        );
        r.register(
            "sonde_agent_delivery_failures",
            "Failed delivery attempts",
            self.delivery_failures.clone(),
        );
        r.register(
            "sonde_agent_dropped",
            "Results given up on",
            self.dropped.clone(),
        );
        r.register(
            "sonde_agent_plan_version",
            "Revision of the plan in use",
            self.plan_version.clone(),
        );
        r.register(
            "sonde_agent_scheduler_up",
            "1 for the scheduler in use while it answers, 0 for the others",
            self.scheduler_up.clone(),
        );
        r.register(
            "sonde_agent_scheduler_failovers",
            "Switches to the next scheduler after a failure",
            self.scheduler_failovers.clone(),
        );
        r.register(
            "sonde_agent_trace_spans_exported",
            "Trace spans the OTLP collector accepted",
            self.trace_spans.exported.clone(),
        );
        r.register(
            "sonde_agent_trace_spans_dropped",
            "Trace spans given up on: export queue full, export failed or timed out, or left at exit",
            self.trace_spans.dropped.clone(),
        );
        r
    }

    /// The metrics in OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry());
        out
    }

    pub fn run_finished(&self, result: &RunResult) {
        let labels = RunLabels {
            scenario: result.scenario.clone(),
            outcome: result.outcome.as_str(),
        };
        self.runs.get_or_create(&labels).inc();
        self.run_durations
            .get_or_create(&labels)
            .observe(RunSample {
                seconds: result.duration_ms / 1_000.0,
                trace_id: &result.trace_id,
                ended_ms: result.ended_ms(),
            });
    }

    pub fn run_skipped(&self, scenario: &str, reason: SkipReason) {
        self.skipped
            .get_or_create(&SkipLabels {
                scenario: scenario.to_string(),
                reason,
            })
            .inc();
    }

    pub fn set_spool(&self, results: usize, bytes: u64) {
        self.spool_results
            .set(i64::try_from(results).unwrap_or(i64::MAX));
        self.spool_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub fn set_spool_disk_full(&self, full: bool) {
        self.spool_disk_full.set(i64::from(full));
    }

    pub fn delivered(&self, count: usize) {
        self.delivered.inc_by(count as u64);
    }

    pub fn delivery_failed(&self, reason: FailureReason) {
        self.delivery_failures
            .get_or_create(&FailureLabels { reason })
            .inc();
    }

    pub fn dropped(&self, reason: DropReason, count: usize) {
        self.dropped
            .get_or_create(&DropLabels { reason })
            .inc_by(count as u64);
    }

    pub fn set_plan_version(&self, revision: u64) {
        self.plan_version
            .set(i64::try_from(revision).unwrap_or(i64::MAX));
    }

    pub fn set_scheduler_up(&self, scheduler: &str, up: bool) {
        self.scheduler_up
            .get_or_create(&SchedulerLabels {
                scheduler: scheduler.to_string(),
            })
            .set(i64::from(up));
    }

    pub fn scheduler_failover(&self) {
        self.scheduler_failovers.inc();
    }

    /// Creates the label-less series and every failure and drop reason at
    /// zero, so dashboards and `rate()` see them before the first event.
    pub fn init_series(&self) {
        for reason in [
            FailureReason::unreachable,
            FailureReason::rate_limited,
            FailureReason::server_error,
            FailureReason::rejected,
        ] {
            drop(
                self.delivery_failures
                    .get_or_create(&FailureLabels { reason }),
            );
        }
        for reason in [
            DropReason::spool_full,
            DropReason::disk_full,
            DropReason::quarantined,
            DropReason::corrupt,
        ] {
            drop(self.dropped.get_or_create(&DropLabels { reason }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed 1.5 s run of `checkout` that started at 10:00:00 UTC.
    fn failed_run() -> RunResult {
        serde_json::from_str(
            r#"{"id":"01890a5d-ac96-774b-bcce-b302099a8057","scenario":"checkout",
            "version":"sha256:00","probe":"p","region":"eu-west-1",
            "scheduled_at":"2026-11-24T10:00:00.000Z","started_at":"2026-11-24T10:00:00.000Z",
            "duration_ms":1500.0,"outcome":"failure",
            "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","steps":[]}"#,
        )
        .expect("a run result")
    }

    #[test]
    fn names_and_labels_match_the_contract() {
        let m = Metrics::new();
        m.init_series();
        m.run_finished(&failed_run());
        m.run_skipped("checkout", SkipReason::overlap);
        m.set_spool(3, 4096);
        m.delivered(2);
        m.set_plan_version(7);
        m.set_scheduler_up("https://a.example/", true);
        m.scheduler_failover();
        let text = m.encode();
        for line in [
            "sonde_agent_runs_total{scenario=\"checkout\",outcome=\"failure\"} 1",
            "sonde_agent_run_duration_seconds_count{scenario=\"checkout\",outcome=\"failure\"} 1",
            "sonde_agent_run_duration_seconds_bucket{le=\"1.0\",scenario=\"checkout\",outcome=\"failure\"} 0",
            // The run's trace id, duration and end time (10:00:01.5).
            "sonde_agent_run_duration_seconds_bucket{le=\"2.5\",scenario=\"checkout\",outcome=\"failure\"} 1 \
             # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 1.5 1795514401.5",
            "sonde_agent_skipped_runs_total{scenario=\"checkout\",reason=\"overlap\"} 1",
            "sonde_agent_spool_results 3",
            "sonde_agent_spool_bytes 4096",
            "sonde_agent_delivered_total 2",
            "sonde_agent_delivery_failures_total{reason=\"rate_limited\"} 0",
            "sonde_agent_dropped_total{reason=\"corrupt\"} 0",
            "sonde_agent_dropped_total{reason=\"disk_full\"} 0",
            "sonde_agent_spool_disk_full 0",
            "sonde_agent_plan_version 7",
            "sonde_agent_scheduler_up{scheduler=\"https://a.example/\"} 1",
            "sonde_agent_scheduler_failovers_total 1",
            "sonde_agent_trace_spans_exported_total 0",
            "sonde_agent_trace_spans_dropped_total 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
