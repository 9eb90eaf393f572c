//! Per scenario × region state behind the result metrics, fed by every
//! accepted result (and, at start-up, by every stored one).
//!
//! The duration histograms share their values between clones (they are
//! prometheus-client metrics): a copy of the map reads the live series.

use std::collections::{BTreeMap, BTreeSet};

use exposition::{RunDurations, RunSample};
use scenarios::wire::{Outcome, RunResult};

/// One step's series in one region.
#[derive(Debug, Clone, Default)]
pub struct StepSeries {
    pub duration: RunDurations,
    /// Phase seconds of the newest run that measured phases.
    pub phases: [Option<f64>; 5],
    phases_at: i64,
    /// `cert_not_after` (Unix seconds) of the newest run with a certificate.
    pub cert_expiry: Option<f64>,
    cert_at: i64,
}

/// One scenario's series in one region.
#[derive(Debug, Clone, Default)]
pub struct ScenarioSeries {
    /// Whether the newest run (by `started_at`) succeeded.
    pub success: bool,
    last_started: i64,
    /// Runs by outcome, in `Outcome::ALL` order.
    pub runs: [u64; 4],
    pub duration: RunDurations,
    pub steps: BTreeMap<String, StepSeries>,
}

/// Series by (scenario, region).
pub type SeriesMap = BTreeMap<(String, String), ScenarioSeries>;

/// Adds a result; only steps named in `steps` get series (labels stay
/// bounded by the catalog, whatever a probe sends).
pub fn observe(map: &mut SeriesMap, result: &RunResult, steps: &BTreeSet<String>) {
    let started = result.started_at.timestamp_millis();
    let key = (result.scenario.clone(), result.region.clone());
    let series = map.entry(key).or_default();
    let newest = series.duration.count() == 0 || started >= series.last_started;
    if newest {
        series.success = result.outcome == Outcome::Success;
        series.last_started = started;
    }
    if let Some(i) = Outcome::ALL.iter().position(|o| *o == result.outcome) {
        series.runs[i] += 1;
    }
    // Each bucket's exemplar is the newest run in it, by end time.
    let sample = |ms: f64| RunSample {
        seconds: ms / 1_000.0,
        trace_id: &result.trace_id,
        ended_ms: result.ended_ms(),
    };
    series.duration.observe(sample(result.duration_ms));
    for step in result.steps.iter().filter(|s| steps.contains(&s.name)) {
        if !series.steps.contains_key(&step.name) {
            series
                .steps
                .insert(step.name.clone(), StepSeries::default());
        }
        let Some(entry) = series.steps.get_mut(&step.name) else {
            continue;
        };
        if let Some(ms) = step.duration_ms {
            entry.duration.observe(sample(ms));
        }
        if let Some(p) = &step.phases
            && started >= entry.phases_at
        {
            entry.phases_at = started;
            entry.phases = [p.dns_ms, p.connect_ms, p.tls_ms, p.ttfb_ms, p.transfer_ms]
                .map(|v| v.map(|ms| ms / 1_000.0));
        }
        let not_after = step.tls.as_ref().and_then(|t| t.cert_not_after);
        if let Some(not_after) = not_after
            && started >= entry.cert_at
        {
            entry.cert_at = started;
            entry.cert_expiry = Some(not_after.timestamp_millis() as f64 / 1_000.0);
        }
    }
}

/// Drops the series of scenarios not in `steps_of` and of steps they no
/// longer have.
pub fn retain(map: &mut SeriesMap, steps_of: &BTreeMap<String, BTreeSet<String>>) {
    map.retain(|(scenario, _), series| match steps_of.get(scenario) {
        Some(steps) => {
            series.steps.retain(|name, _| steps.contains(name));
            true
        }
        None => false,
    });
}
