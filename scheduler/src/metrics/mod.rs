//! `/metrics`: the scheduler's series (`docs/api.md`, "`GET /metrics`"),
//! encoded by prometheus-client as OpenMetrics and served as OpenMetrics
//! or classic text by content negotiation.
//!
//! Result series live in plain maps updated on each ingest and rebuilt from
//! the store at start-up, so counters and histograms survive restarts
//! (within retention); probe and catalog series are computed at scrape
//! time, so `sonde_probe_up` is right the moment a probe goes silent.
//!
//! - [`names`]: every name, buckets and label values.
//! - `series`: the per scenario × region state.
//! - `encode`: the snapshot collector that writes one scrape.
//! - `notifications`: the notifiers' attempt counters and queue gauges.
//! - `alerting`: the alert engine's states, firing alerts and SLOs.
//! - `store`: whether the store can be written, failed writes.

mod alerting;
mod encode;
pub mod names;
mod notifications;
mod series;
mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use scenarios::wire::{RejectReason, RunResult};

pub use alerting::{AlertSample, SloSample, StateSample};
pub use encode::{LeaderSample, ProbeSample, Scrape};
pub use notifications::{KindSample, NotificationMetrics, NotificationOutcome, NotificationSample};
pub use series::{ScenarioSeries, SeriesMap, StepSeries};
pub use store::StoreSample;

use crate::catalog::Catalog;

/// How an ingested result was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    Accepted,
    Duplicate,
    Rejected(RejectReason),
}

impl IngestOutcome {
    /// Its counter: accepted, duplicate, then one per reason in
    /// [`RejectReason::ALL`] order.
    fn index(self) -> usize {
        match self {
            IngestOutcome::Accepted => 0,
            IngestOutcome::Duplicate => 1,
            // `Other` is only ever read from a newer scheduler, never
            // given here; it would count as malformed.
            IngestOutcome::Rejected(reason) => {
                2 + RejectReason::ALL
                    .iter()
                    .position(|r| *r == reason)
                    .unwrap_or(0)
            }
        }
    }
}

/// Counters of `sonde_ingest_results_total`.
const INGEST_COUNTERS: usize = 2 + RejectReason::ALL.len();

/// Ingest counts of one scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounts {
    pub accepted: u64,
    pub duplicate: u64,
    /// By reason, in [`RejectReason::ALL`] order.
    pub rejected: [u64; RejectReason::ALL.len()],
}

/// The scheduler's metric state.
#[derive(Debug, Default)]
pub struct Metrics {
    series: Mutex<SeriesMap>,
    ingest: [AtomicU64; INGEST_COUNTERS],
    /// Notification attempts and queues, shared with the notifiers.
    pub notifications: std::sync::Arc<NotificationMetrics>,
}

impl Metrics {
    fn lock(&self) -> MutexGuard<'_, SeriesMap> {
        self.series
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts ingested results.
    pub fn count_ingest(&self, outcome: IngestOutcome, n: u64) {
        self.ingest[outcome.index()].fetch_add(n, Ordering::Relaxed);
    }

    /// Adds accepted results.
    pub fn observe<'a>(&self, results: impl IntoIterator<Item = &'a RunResult>, catalog: &Catalog) {
        // Step names per scenario, worked out once per call.
        let mut steps: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut map = self.lock();
        for result in results {
            let names = match steps.get(result.scenario.as_str()) {
                Some(names) => names,
                None => match catalog.get(&result.scenario) {
                    Some(entry) => steps
                        .entry(entry.name.as_str())
                        .or_insert_with(|| step_names(&entry.scenario)),
                    None => continue,
                },
            };
            series::observe(&mut map, result, names);
        }
    }

    /// Drops series of scenarios (and steps) the catalog no longer has.
    pub fn retain(&self, catalog: &Catalog) {
        let steps_of: BTreeMap<String, BTreeSet<String>> = catalog
            .scenarios
            .values()
            .map(|s| (s.name.clone(), step_names(&s.scenario)))
            .collect();
        series::retain(&mut self.lock(), &steps_of);
    }

    /// Replaces the result series (start-up rebuild).
    pub fn replace(&self, series: SeriesMap) {
        *self.lock() = series;
    }

    /// A copy of the result series (its histograms read the live values).
    pub fn series(&self) -> SeriesMap {
        self.lock().clone()
    }

    /// Ingest counts by outcome, rejections by reason.
    pub fn ingest_counts(&self) -> IngestCounts {
        let load = |outcome: IngestOutcome| self.ingest[outcome.index()].load(Ordering::Relaxed);
        IngestCounts {
            accepted: load(IngestOutcome::Accepted),
            duplicate: load(IngestOutcome::Duplicate),
            rejected: RejectReason::ALL.map(|r| load(IngestOutcome::Rejected(r))),
        }
    }
}

fn step_names(scenario: &scenarios::Scenario) -> BTreeSet<String> {
    scenario.steps.iter().map(|s| s.name.clone()).collect()
}
