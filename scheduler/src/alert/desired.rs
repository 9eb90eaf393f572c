//! The alerts a scenario should have now, worked out from its region
//! states, latency measurements and SLO status; and where to confirm a
//! regional failure from.

use scenarios::model::Severity;
use scenarios::wire::{RunReason, RunRequest};
use uuid::Uuid;

use super::depends::{dependents_down, suppressed_by};
use super::engine::State;
use super::model::{Alert, Scope};
use super::slo::SloStatus;
use super::state::{Failure, Health};
use super::world::World;
use crate::catalog::CatalogScenario;

/// An alert that should be firing.
pub(super) struct Desired {
    pub alert: Alert,
    /// Part of a larger alert of its scenario, recorded, not emitted: a
    /// regional alert under the global one, an SLO alert under the
    /// regional or global incident.
    pub grouped: bool,
    /// A regional alert that asks another region to confirm.
    pub confirm: Option<String>,
    /// A parent in `depends_on` is down where it is: why, for the timeline.
    pub suppressed: Option<String>,
}

fn base(
    world: &World,
    s: &CatalogScenario,
    id: String,
    scope: Scope,
    regions: Vec<String>,
) -> Alert {
    let policy = &s.scenario.alert;
    Alert {
        scenario: Some(s.name.clone()),
        regions,
        runbook: policy.runbook.clone(),
        url: Some(world.scenario_url(&s.name)),
        page_url: Some(world.scenario_page_url(&s.name)),
        labels: s.scenario.labels.clone(),
        ..Alert::new(id, scope, policy.severity, world.now)
    }
}

fn with_failure(world: &World, mut alert: Alert, failure: Option<&Failure>) -> Alert {
    if let Some(f) = failure {
        alert.step.clone_from(&f.step);
        alert.error.clone_from(&f.error);
        alert.expected.clone_from(&f.expected);
        alert.actual.clone_from(&f.actual);
        alert.trace_id = Some(f.trace_id.clone());
        alert.trace_url = world.trace_link(&f.trace_id);
    }
    alert
}

fn because(failure: Option<&Failure>) -> String {
    failure.map_or_else(String::new, |f| format!(": {}", f.describe()))
}

/// `1h 166.7x, 5m 1000.0x`: the burn rates of a rule's windows.
fn burns(status: &SloStatus, keys: [&str; 2]) -> String {
    keys.iter()
        .map(|k| {
            format!(
                "{k} {:.1}x",
                status.burn_rates.get(k).copied().unwrap_or(0.0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `; error budget: 1h 166.7x, 5m 166.7x, 98.8% of the budget left …`:
/// what a regional or global alert says of its scenario's SLO, whose own
/// alerts it stands for.
fn budget_note(status: Option<&SloStatus>) -> String {
    status.map_or_else(String::new, |status| {
        format!(
            "; error budget: {}, {}",
            burns(status, status.page_windows),
            status.budget_left()
        )
    })
}

/// The alerts scenario `s` should have now.
pub(super) fn desired_for(st: &State, world: &World, s: &CatalogScenario) -> Vec<Desired> {
    let policy = &s.scenario.alert;
    let regions = world.regions_of(s);
    let health = |r: &String| st.health.get(&(s.name.clone(), r.clone()));
    let down: Vec<&String> = regions
        .iter()
        .filter(|r| health(r).is_some_and(|h| h.health == Health::Down))
        .filter(|r| world.presumed_live(r, &s.needs))
        .collect();
    // A global incident lasts until its last region is back: paging the
    // stragglers regionally as the fix rolls out would be noise.
    let global_id = format!("{}/global", s.name);
    let ongoing = st.open.contains_key(&global_id) && !down.is_empty();
    // A region under maintenance is expected to fail: it makes no global
    // incident of its own.
    let down_outside = down
        .iter()
        .filter(|r| !st.in_maintenance(s, r, world.now))
        .count();
    let global =
        ongoing || (policy.global_regions > 0 && down_outside >= policy.global_regions as usize);
    let slo = st.slo.get(&s.name);
    let mut out = Vec::new();
    if global {
        let newest = down
            .iter()
            .filter_map(|r| health(r))
            .max_by_key(|h| h.last_started)
            .and_then(|h| h.failure.as_ref());
        let names: Vec<String> = down.iter().map(|r| (*r).clone()).collect();
        let mut alert = base(world, s, global_id, Scope::Global, names.clone());
        alert.dependents = dependents_down(st, world, &s.name, &names);
        alert.summary = format!(
            "{} is down in {} region{} ({}){}{}",
            s.name,
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            because(newest),
            budget_note(slo)
        );
        out.push(Desired {
            alert: with_failure(world, alert, newest),
            grouped: false,
            confirm: None,
            suppressed: suppressed_by(st, world, s, &names),
        });
    }
    for r in &down {
        let failure = health(r).and_then(|h| h.failure.as_ref());
        let id = format!("{}/region/{r}", s.name);
        let here = vec![(*r).clone()];
        let mut alert = base(world, s, id, Scope::Region, here.clone());
        alert.dependents = dependents_down(st, world, &s.name, &here);
        alert.summary = format!(
            "{} is down in {r}{}{}",
            s.name,
            because(failure),
            budget_note(slo)
        );
        out.push(Desired {
            alert: with_failure(world, alert, failure),
            grouped: global,
            confirm: policy.confirm.then(|| (*r).clone()),
            suppressed: suppressed_by(st, world, s, &here),
        });
    }
    if let Some(objective) = &policy.latency {
        let slow: Vec<(String, Option<f64>)> = regions
            .iter()
            .filter_map(|r| {
                health(r)
                    .filter(|h| h.degraded)
                    .map(|h| (r.clone(), h.latency_ms))
            })
            .collect();
        if !slow.is_empty() {
            let detail: Vec<String> = slow
                .iter()
                .map(|(r, v)| format!("{r} {:.0}ms", v.unwrap_or_default()))
                .collect();
            let mut alert = base(
                world,
                s,
                format!("{}/latency", s.name),
                Scope::Latency,
                slow.into_iter().map(|(r, _)| r).collect(),
            );
            alert.summary = format!(
                "{} is degraded: p{} over {} above {} ({})",
                s.name,
                objective.percentile,
                scenarios::duration::Human(objective.window),
                scenarios::duration::Human(objective.threshold),
                detail.join(", ")
            );
            out.push(Desired {
                alert,
                grouped: false,
                confirm: None,
                suppressed: None,
            });
        }
    }
    if policy.anomaly.is_some() {
        out.extend(anomaly_alerts(st, world, s, &regions));
    }
    // An SLO alert of a scenario with a regional or global alert is the
    // same incident: that alert carries the burn (`budget_note`).
    let incident = out
        .iter()
        .any(|d| matches!(d.alert.scope, Scope::Region | Scope::Global));
    if let Some(status) = slo {
        out.extend(slo_alerts(world, s, &regions, status, incident));
    }
    out
}

/// `checkout/anomaly/eu-west-1`.
pub(super) fn anomaly_alert_id(scenario: &str, region: &str) -> String {
    format!("{scenario}/anomaly/{region}")
}

/// One alert per region whose latency is anomalous, of the anomaly's
/// severity (`warning` unless set), never grouped with the regional incidents (a slow region is not down).
fn anomaly_alerts(
    st: &State,
    world: &World,
    s: &CatalogScenario,
    regions: &[String],
) -> Vec<Desired> {
    let mut out = Vec::new();
    for r in regions {
        let key = (s.name.clone(), r.clone());
        let Some(Some(v)) = st.anomaly.get(&key) else {
            continue;
        };
        if !v.firing {
            continue;
        }
        let here = vec![r.clone()];
        let mut alert = base(world, s, anomaly_alert_id(&s.name, r), Scope::Anomaly, here);
        alert.severity = s
            .scenario
            .alert
            .anomaly
            .map_or(Severity::Warning, |a| a.severity);
        alert.summary = format!(
            "{} is slower than usual in {r}: p50 of last {} runs {:.0} ms vs baseline {:.0} ms ± {:.0} ms",
            s.name,
            v.judged,
            v.recent_p50_ms,
            v.baseline.median_ms,
            v.baseline.floored_spread_ms(),
        );
        out.push(Desired {
            alert,
            grouped: false,
            confirm: None,
            suppressed: None,
        });
    }
    out
}

/// The page and ticket alerts of an SLO status, `grouped` under the
/// scenario's incident when it has one.
fn slo_alerts(
    world: &World,
    s: &CatalogScenario,
    regions: &[String],
    status: &SloStatus,
    incident: bool,
) -> Vec<Desired> {
    let mut out = Vec::new();
    for (kind, on, severity, windows) in [
        ("page", status.page, Severity::Critical, status.page_windows),
        (
            "ticket",
            status.ticket,
            Severity::Warning,
            status.ticket_windows,
        ),
    ] {
        if !on {
            continue;
        }
        let mut alert = base(
            world,
            s,
            format!("{}/slo/{kind}", s.name),
            Scope::Slo,
            regions.to_vec(),
        );
        alert.severity = severity;
        alert.summary = format!(
            "{} burns its error budget ({}% over {}): {}; {}",
            s.name,
            status.availability,
            scenarios::duration::Human(status.window),
            burns(status, windows),
            status.budget_left()
        );
        out.push(Desired {
            alert,
            grouped: incident,
            confirm: None,
            suppressed: None,
        });
    }
    out
}

/// One live probe in each other region of the alert's scenario, with the
/// run to ask of it: every region's view, so a failure seen elsewhere too
/// is caught before the regional alert is sent.
pub(super) fn confirm_targets(
    world: &World,
    alert: &Alert,
    down_region: &str,
) -> Vec<(String, String, RunRequest)> {
    let Some(name) = alert.scenario.as_deref() else {
        return Vec::new();
    };
    let Some(s) = world.catalog.get(name) else {
        return Vec::new();
    };
    world
        .regions_of(s)
        .into_iter()
        .filter(|r| r != down_region)
        .filter_map(|region| {
            let probe = world.owner(name, &region)?;
            let request = RunRequest {
                id: Uuid::now_v7(),
                scenario: name.to_owned(),
                requested_at: world.now,
                reason: RunReason::Confirmation,
                inline: None,
            };
            Some((probe, region, request))
        })
        .collect()
}
