//! `GET /api/v1/reports/uptime`: availability per scenario × region and
//! UTC day, the downtime its incidents caused, and the maintenance time
//! kept out of both; the status page's 90 daily bars are its days.
//!
//! Availability is passing runs over counted runs. A run counts by its
//! last attempt only (a failure whose retry is stored is left out, as for
//! the SLO), and runs marked `slo_excluded` as they were stored (they ran
//! in a maintenance window with `exclude_from_slo`) do not count. Days
//! without counted runs have no availability (`null`), not 100%.
//!
//! Incidents are the scenario's `region` and `global` alerts that fired
//! (or were grouped under one that did); one held for its confirmation
//! and resolved before it fired is not an incident, as in the alert
//! report. Downtime is the time an incident covered the region, overlaps
//! once, less the time an excluding maintenance window covered it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::time_spans::Spans;
use crate::alert::{Scope, StoredAlert};
use crate::app::App;
use crate::maintenance::Window;
use crate::store::{DAY_MS, DayCounts, StoreError};

/// Openings of one recurring window the report looks at, at most.
const MAX_OPENINGS: usize = 100_000;

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UptimeReport {
    #[serde(with = "scenarios::wire::time")]
    pub from: DateTime<Utc>,
    #[serde(with = "scenarios::wire::time")]
    pub to: DateTime<Utc>,
    pub scenarios: Vec<ScenarioUptime>,
}

/// One scenario, by region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioUptime {
    pub scenario: String,
    pub regions: Vec<RegionUptime>,
}

/// One scenario in one region: totals over the span, each day, incidents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionUptime {
    pub region: String,
    #[serde(flatten)]
    pub total: Figures,
    pub days: Vec<DayUptime>,
    pub incidents: Vec<Incident>,
}

/// One UTC day's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayUptime {
    /// `2026-11-24`.
    pub date: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures of a day or of the whole span.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Counted runs (see the module's docs).
    pub runs: u64,
    pub failed: u64,
    /// Last attempts left out: they ran in an excluding maintenance window.
    pub excluded_runs: u64,
    /// `(runs - failed) / runs`; `null` without counted runs.
    pub availability: Option<f64>,
    pub downtime_s: f64,
    /// Seconds an excluding maintenance window covered.
    pub maintenance_s: f64,
}

/// An alert that took the scenario down in the region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub id: String,
    /// `region` or `global`.
    pub scope: &'static str,
    #[serde(with = "scenarios::wire::time")]
    pub started_at: DateTime<Utc>,
    /// `null` while it is still open.
    #[serde(with = "scenarios::wire::time::option")]
    pub ended_at: Option<DateTime<Utc>>,
    /// To its end, or to now while open.
    pub duration_s: f64,
}

impl ScenarioUptime {
    /// Each day's runs over every region together (the status page's bars).
    pub fn all_regions(&self) -> Vec<DayUptime> {
        let mut days: BTreeMap<&str, Figures> = BTreeMap::new();
        for d in self.regions.iter().flat_map(|r| &r.days) {
            let f = days.entry(&d.date).or_default();
            f.runs += d.figures.runs;
            f.failed += d.figures.failed;
            f.excluded_runs += d.figures.excluded_runs;
        }
        days.into_iter()
            .map(|(date, mut figures)| {
                figures.availability = availability(figures.runs, figures.failed);
                DayUptime {
                    date: date.to_owned(),
                    figures,
                }
            })
            .collect()
    }
}

/// The report over `from..to` (`to` no later than now), of `scenario`
/// alone when given.
///
/// # Errors
/// Store errors.
pub async fn uptime_report(
    app: &App,
    scenario: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<UptimeReport, StoreError> {
    let now = app.clock.now();
    let to = to.min(now);
    let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
    let only = scenario.map(str::to_owned);
    let (counts, alerts, stored_windows) = app
        .store
        .read(move |tx| {
            let counts = tx.daily_counts(only.as_deref(), from_ms, to_ms)?;
            let alerts = tx.alerts_since(from_ms)?;
            Ok((counts, alerts, tx.windows()?))
        })
        .await?;
    // Config windows and live API ones from the engine; API windows that
    // are over are only in the store (until retention).
    let mut windows = app.alerts.windows();
    let known: BTreeSet<String> = windows.iter().map(|w| w.id.clone()).collect();
    windows.extend(
        stored_windows
            .into_iter()
            .filter(|w| !known.contains(&w.id)),
    );
    windows.retain(|w| w.exclude_from_slo);

    let catalog = app.catalog.current();
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    for s in catalog.scenarios.values() {
        if scenario.is_none_or(|n| n == s.name) {
            for region in app.fleet.regions_of(s) {
                pairs.insert((s.name.clone(), region));
            }
        }
    }
    pairs.extend(
        counts
            .iter()
            .map(|c| (c.scenario.clone(), c.region.clone())),
    );
    let incidents = incidents(&alerts, scenario, to);
    pairs.extend(incidents.keys().cloned());

    let openings: Vec<(&Window, Spans)> = windows
        .iter()
        .map(|w| {
            let spans = w
                .openings(from, to, MAX_OPENINGS)
                .into_iter()
                .map(|(a, b)| (a.timestamp_millis(), b.timestamp_millis()));
            (w, Spans::union(spans))
        })
        .collect();
    let mut counted: BTreeMap<(String, String), Vec<&DayCounts>> = BTreeMap::new();
    for c in &counts {
        counted
            .entry((c.scenario.clone(), c.region.clone()))
            .or_default()
            .push(c);
    }
    let no_labels = BTreeMap::new();
    let mut by_scenario: BTreeMap<String, Vec<RegionUptime>> = BTreeMap::new();
    for (name, region) in pairs {
        let labels = catalog
            .get(&name)
            .map_or(&no_labels, |s| &s.scenario.labels);
        let regions = [region.clone()];
        let maintenance = Spans::union(
            openings
                .iter()
                .filter(|(w, _)| w.covers(Some(&name), &regions, labels))
                .flat_map(|(_, s)| s.clone().into_pairs()),
        );
        let key = (name.clone(), region.clone());
        let own = incidents.get(&key).map(Vec::as_slice).unwrap_or_default();
        let days = counted.get(&key).map(Vec::as_slice).unwrap_or_default();
        let row = region_uptime(region, days, own, &maintenance, (from_ms, to_ms), now);
        by_scenario.entry(name).or_default().push(row);
    }
    Ok(UptimeReport {
        from,
        to,
        scenarios: by_scenario
            .into_iter()
            .map(|(scenario, regions)| ScenarioUptime { scenario, regions })
            .collect(),
    })
}

/// Fired `region` and `global` alerts that overlap the span, by scenario
/// and region, oldest first.
fn incidents<'a>(
    alerts: &'a [StoredAlert],
    scenario: Option<&str>,
    to: DateTime<Utc>,
) -> BTreeMap<(String, String), Vec<&'a StoredAlert>> {
    let mut out: BTreeMap<(String, String), Vec<&'a StoredAlert>> = BTreeMap::new();
    for a in alerts {
        let Some(name) = a.alert.scenario.as_deref() else {
            continue;
        };
        let scoped = matches!(a.alert.scope, Scope::Region | Scope::Global);
        if !scoped || !(a.notified || a.grouped) || a.alert.started_at >= to {
            continue;
        }
        if scenario.is_some_and(|n| n != name) {
            continue;
        }
        for region in &a.alert.regions {
            out.entry((name.to_owned(), region.clone()))
                .or_default()
                .push(a);
        }
    }
    out
}

fn region_uptime(
    region: String,
    counts: &[&DayCounts],
    alerts: &[&StoredAlert],
    maintenance: &Spans,
    (from_ms, to_ms): (i64, i64),
    now: DateTime<Utc>,
) -> RegionUptime {
    let now_ms = now.timestamp_millis();
    let down = Spans::union(alerts.iter().map(|a| {
        let end = a.alert.ended_at.map_or(now_ms, |e| e.timestamp_millis());
        (a.alert.started_at.timestamp_millis(), end)
    }));
    let down_in_maintenance = down.intersect(maintenance);
    let by_day: BTreeMap<i64, &DayCounts> = counts.iter().map(|c| (c.day, *c)).collect();
    let mut total = Figures::default();
    let mut days = Vec::new();
    let last_day = (to_ms - 1).max(from_ms).div_euclid(DAY_MS);
    for day in from_ms.div_euclid(DAY_MS)..=last_day {
        let (lo, hi) = ((day * DAY_MS).max(from_ms), ((day + 1) * DAY_MS).min(to_ms));
        let mut f = Figures {
            downtime_s: seconds(down.covered(lo, hi) - down_in_maintenance.covered(lo, hi)),
            maintenance_s: seconds(maintenance.covered(lo, hi)),
            ..Figures::default()
        };
        if let Some(c) = by_day.get(&day) {
            (f.runs, f.failed, f.excluded_runs) = (c.runs, c.failed, c.excluded);
        }
        f.availability = availability(f.runs, f.failed);
        total.runs += f.runs;
        total.failed += f.failed;
        total.excluded_runs += f.excluded_runs;
        total.downtime_s += f.downtime_s;
        total.maintenance_s += f.maintenance_s;
        days.push(DayUptime {
            date: date_of(day),
            figures: f,
        });
    }
    total.availability = availability(total.runs, total.failed);
    let incidents = alerts
        .iter()
        .map(|a| Incident {
            id: a.alert.id.clone(),
            scope: a.alert.scope.as_str(),
            started_at: a.alert.started_at,
            ended_at: a.alert.ended_at,
            duration_s: seconds(
                (a.alert.ended_at.unwrap_or(now) - a.alert.started_at).num_milliseconds(),
            ),
        })
        .collect();
    RegionUptime {
        region,
        total,
        days,
        incidents,
    }
}

fn availability(runs: u64, failed: u64) -> Option<f64> {
    (runs > 0).then(|| (runs - failed.min(runs)) as f64 / runs as f64)
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// `2026-11-24` for a day since the epoch.
fn date_of(day: i64) -> String {
    DateTime::from_timestamp_millis(day * DAY_MS)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}
