//! `GET /api/v1/reports/alerts?since=7d`: the figures of an on-call
//! review, per scenario: how often it paged, how long it was alerting,
//! how fast it was resolved, how often it flapped, and what was muted or
//! suppressed instead of sent.
//!
//! Only alerts that fired count (an alert held for its confirmation and
//! resolved before it fired was never seen by anyone), and a regional
//! alert grouped under its global one counts once, as the global alert.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::alert::{AlertStatus, StoredAlert};
use crate::app::App;
use crate::store::StoreError;

/// An alert that fires again this soon after it resolved is a flap.
pub const FLAP_GAP: Duration = Duration::from_secs(30 * 60);

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertReport {
    #[serde(with = "scenarios::wire::time")]
    pub since: DateTime<Utc>,
    #[serde(with = "scenarios::wire::time")]
    pub until: DateTime<Utc>,
    /// What an alert that fires again within this many seconds of its
    /// resolve counts as: a flap.
    pub flap_gap_s: f64,
    /// Scenarios that alerted, most pages first.
    pub scenarios: Vec<ScenarioReport>,
    /// Probe and region alerts, which belong to no scenario.
    pub fleet: Figures,
}

/// One scenario's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioReport {
    pub scenario: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures of a set of alerts over the report's span.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Alerts that fired in the span.
    pub alerts: u32,
    /// Of them, those sent to the receivers (not muted).
    pub pages: u32,
    /// Seconds in the span during which at least one of them was firing.
    pub firing_s: f64,
    /// Mean seconds from firing to resolve, of those resolved in the span.
    pub mean_time_to_resolve_s: Option<f64>,
    /// Alerts that fired again within `flap_gap_s` of their last resolve.
    pub flaps: u32,
    /// Alerts that fired muted: a silence (or maintenance) matched.
    pub muted: u32,
    /// Alerts held back because a scenario they depend on was down.
    pub suppressed: u32,
}

/// The report over `span` up to now.
///
/// # Errors
/// Store errors.
pub async fn alert_report(app: &App, span: Duration) -> Result<AlertReport, StoreError> {
    let until = app.clock.now();
    let since = until - chrono::Duration::from_std(span).unwrap_or(chrono::Duration::MAX);
    let since_ms = since.timestamp_millis();
    let (alerts, suppressed) = app
        .store
        .read(move |tx| {
            let alerts = tx.alerts_since(since_ms)?;
            let suppressed = tx.alerts_marked_since("suppressed", since_ms)?;
            Ok((alerts, suppressed))
        })
        .await?;
    let suppressed: BTreeSet<i64> = suppressed.into_iter().collect();
    Ok(report(&alerts, &suppressed, since, until))
}

/// The report of `alerts` (oldest first) over `since..until`; `suppressed`
/// holds the rows of alerts that were suppressed.
pub fn report(
    alerts: &[StoredAlert],
    suppressed: &BTreeSet<i64>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> AlertReport {
    let mut by_scenario: BTreeMap<Option<&str>, Vec<&StoredAlert>> = BTreeMap::new();
    for a in alerts {
        by_scenario
            .entry(a.alert.scenario.as_deref())
            .or_default()
            .push(a);
    }
    let fleet = by_scenario
        .remove(&None)
        .map(|a| figures(&a, suppressed, since, until))
        .unwrap_or_default();
    let mut scenarios: Vec<ScenarioReport> = by_scenario
        .into_iter()
        .filter_map(|(name, alerts)| {
            let figures = figures(&alerts, suppressed, since, until);
            let any = figures.alerts > 0 || figures.suppressed > 0 || figures.firing_s > 0.0;
            any.then(|| ScenarioReport {
                scenario: name.unwrap_or_default().to_owned(),
                figures,
            })
        })
        .collect();
    scenarios.sort_by(|a, b| {
        b.figures
            .pages
            .cmp(&a.figures.pages)
            .then(b.figures.firing_s.total_cmp(&a.figures.firing_s))
            .then(a.scenario.cmp(&b.scenario))
    });
    AlertReport {
        since,
        until,
        flap_gap_s: FLAP_GAP.as_secs_f64(),
        scenarios,
        fleet,
    }
}

fn figures(
    alerts: &[&StoredAlert],
    suppressed: &BTreeSet<i64>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Figures {
    let mut f = Figures {
        suppressed: count(alerts.iter().filter(|a| suppressed.contains(&a.row))),
        ..Figures::default()
    };
    let fired: Vec<&StoredAlert> = alerts
        .iter()
        .copied()
        .filter(|a| a.notified && !a.grouped)
        .collect();
    let started_in = |a: &StoredAlert| a.alert.started_at >= since && a.alert.started_at <= until;
    for a in fired.iter().filter(|a| started_in(a)) {
        f.alerts += 1;
        if a.paged {
            f.pages += 1;
        } else {
            f.muted += 1;
        }
    }
    f.firing_s = firing_seconds(&fired, since, until);
    let resolved: Vec<f64> = fired
        .iter()
        .filter(|a| a.status == AlertStatus::Resolved)
        .filter_map(|a| a.alert.ended_at.map(|end| (a, end)))
        .filter(|(_, end)| *end >= since && *end <= until)
        .map(|(a, end)| seconds(end - a.alert.started_at))
        .collect();
    if !resolved.is_empty() {
        f.mean_time_to_resolve_s = Some(resolved.iter().sum::<f64>() / resolved.len() as f64);
    }
    f.flaps = flaps(&fired, since, until);
    f
}

/// Seconds of `since..until` covered by at least one alert's firing.
fn firing_seconds(alerts: &[&StoredAlert], since: DateTime<Utc>, until: DateTime<Utc>) -> f64 {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = alerts
        .iter()
        .map(|a| {
            let end = a.alert.ended_at.unwrap_or(until).min(until);
            (a.alert.started_at.max(since), end)
        })
        .filter(|(start, end)| start < end)
        .collect();
    spans.sort();
    let mut total = 0.0;
    let mut current: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (start, end) in spans {
        current = match current {
            Some((s, e)) if start <= e => Some((s, e.max(end))),
            Some((s, e)) => {
                total += seconds(e - s);
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((s, e)) = current {
        total += seconds(e - s);
    }
    total
}

/// Alerts that fired in the span within [`FLAP_GAP`] of the same alert's
/// previous resolve.
fn flaps(alerts: &[&StoredAlert], since: DateTime<Utc>, until: DateTime<Utc>) -> u32 {
    let gap = chrono::Duration::from_std(FLAP_GAP).unwrap_or_default();
    let mut last_end: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    let mut n = 0;
    for a in alerts {
        let start = a.alert.started_at;
        if let Some(end) = last_end.get(a.alert.id.as_str())
            && start >= since
            && start <= until
            && start - *end <= gap
        {
            n += 1;
        }
        if let Some(end) = a.alert.ended_at {
            last_end.insert(a.alert.id.as_str(), end);
        }
    }
    n
}

fn count<'a>(alerts: impl Iterator<Item = &'a &'a StoredAlert>) -> u32 {
    u32::try_from(alerts.count()).unwrap_or(u32::MAX)
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use scenarios::model::Severity;

    use super::*;
    use crate::alert::{Alert, Scope};

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap()
    }

    fn stored(row: i64, id: &str, start: i64, end: Option<i64>) -> StoredAlert {
        let scenario = id.split('/').next().map(str::to_owned);
        StoredAlert {
            row,
            alert: Alert {
                scenario,
                ended_at: end.map(at),
                ..Alert::new(id, Scope::Region, Severity::Critical, at(start))
            },
            status: if end.is_some() {
                AlertStatus::Resolved
            } else {
                AlertStatus::Firing
            },
            grouped: false,
            notified: true,
            paged: true,
            muted: false,
            confirm_request: None,
            confirm_at: None,
        }
    }

    #[test]
    fn pages_time_firing_resolve_time_and_flaps_per_scenario() {
        let mut muted = stored(4, "search/region/eu-west-1", 10, Some(20));
        muted.paged = false;
        let mut held = stored(5, "search/region/us-east-1", 30, Some(31));
        held.notified = false;
        let mut grouped = stored(6, "checkout/region/us-east-1", 62, Some(70));
        grouped.grouped = true;
        let mut probe = stored(7, "probe/p-eu-1", 0, Some(5));
        probe.alert.scenario = None;
        let alerts = [
            // Began before the span: its firing counts from the span's start.
            stored(1, "checkout/region/eu-west-1", -30, Some(10)),
            // Fired again 20 min after resolving: a flap.
            stored(2, "checkout/region/eu-west-1", 30, Some(40)),
            stored(3, "checkout/global", 60, None),
            muted,
            held,
            grouped,
            probe,
        ];
        let suppressed = BTreeSet::from([5]);
        let r = report(&alerts, &suppressed, at(0), at(90));

        let names: Vec<&str> = r.scenarios.iter().map(|s| s.scenario.as_str()).collect();
        assert_eq!(names, ["checkout", "search"]);
        let checkout = &r.scenarios[0].figures;
        assert_eq!(
            checkout.alerts, 2,
            "the one begun before the span is not counted"
        );
        assert_eq!(checkout.pages, 2);
        // 0–10, 30–40 and 60–90 (still firing); the grouped alert adds nothing.
        assert_eq!(checkout.firing_s, 50.0 * 60.0);
        // Resolved in the span: 40 min and 10 min.
        assert_eq!(checkout.mean_time_to_resolve_s, Some(25.0 * 60.0));
        assert_eq!(checkout.flaps, 1);
        assert_eq!(checkout.muted, 0);

        let search = &r.scenarios[1].figures;
        assert_eq!((search.alerts, search.pages, search.muted), (1, 0, 1));
        assert_eq!(search.suppressed, 1, "held back, never fired, yet reported");

        assert_eq!(r.fleet.alerts, 1);
        assert_eq!(r.fleet.firing_s, 300.0);
    }

    #[test]
    fn a_quiet_span_reports_nothing() {
        let alerts = [stored(1, "checkout/region/eu-west-1", 0, Some(10))];
        let r = report(&alerts, &BTreeSet::new(), at(100), at(200));
        assert!(r.scenarios.is_empty(), "{:?}", r.scenarios);
        assert_eq!(r.fleet, Figures::default());
    }
}
