//! `GET /api/v1/scenarios`, `/scenarios/{name}` and `/scenarios/{name}/runs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use scenarios::duration::Human;
use scenarios::model::Schedule;
use scenarios::wire::RunResult;
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use crate::aggregate::{RegionStats, region_stats};
use crate::app::App;
use crate::catalog::CatalogScenario;

/// Default `window`.
const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);
/// Longest `window`.
const MAX_WINDOW: Duration = Duration::from_secs(90 * 86_400);
/// Default and largest `limit` of runs.
const DEFAULT_RUNS: usize = 20;
const MAX_RUNS: usize = 500;

#[derive(Debug, Deserialize)]
pub struct WindowQuery {
    window: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RunsQuery {
    region: Option<String>,
    limit: Option<String>,
}

/// One scenario in one region.
#[derive(Debug, Serialize)]
pub struct RegionSummary {
    pub region: String,
    /// The alert engine's state: `up`, `down` (after `after` failed runs),
    /// `degraded` (latency objective missed), `muted` (silenced) or
    /// `unknown` (no run yet, or no live probe in the region).
    pub state: &'static str,
    /// The probe that runs it there now; `null` when none is live.
    pub probe: Option<String>,
    pub live_probes: usize,
    #[serde(flatten)]
    pub stats: RegionStats,
}

/// A scenario with its per-region summaries.
#[derive(Debug, Serialize)]
pub struct ScenarioSummary {
    pub name: String,
    pub path: String,
    pub version: String,
    pub description: Option<String>,
    /// `30s` for an interval, `cron */5 * * * * UTC` for a cron schedule.
    pub schedule: String,
    pub labels: BTreeMap<String, String>,
    pub regions: Vec<RegionSummary>,
}

#[derive(Debug, Serialize)]
pub struct ScenarioList {
    pub window: String,
    pub scenarios: Vec<ScenarioSummary>,
}

#[derive(Debug, Serialize)]
pub struct StepInfo {
    pub name: String,
    pub kind: &'static str,
}

#[derive(Debug, Serialize)]
pub struct AlertPolicyInfo {
    pub after: u32,
    pub recover_after: u32,
    pub global_regions: u32,
    pub severity: &'static str,
    pub runbook: Option<String>,
    pub confirm: bool,
}

#[derive(Debug, Serialize)]
pub struct ScenarioDetail {
    pub window: String,
    #[serde(flatten)]
    pub summary: ScenarioSummary,
    pub timeout: String,
    /// The regions the file names; `null`: every region with a probe.
    pub configured_regions: Option<Vec<String>>,
    pub steps: Vec<StepInfo>,
    /// Files the scenario names (`tls.ca_file`).
    pub files: Vec<String>,
    pub alert: AlertPolicyInfo,
    /// Its open alerts.
    pub alerts: Vec<crate::alert::Alert>,
    /// Error budget and burn rates; `null` without an `slo` objective.
    pub slo: Option<crate::evaluate::SloView>,
}

#[derive(Debug, Serialize)]
pub struct RunList {
    pub scenario: String,
    pub region: Option<String>,
    pub runs: Vec<RunResult>,
}

pub async fn list(
    State(app): State<Arc<App>>,
    Query(query): Query<WindowQuery>,
) -> Result<Json<ScenarioList>, ApiError> {
    let window = parse_window(query.window.as_deref())?;
    let catalog = app.catalog.current();
    let mut scenarios = Vec::new();
    for s in catalog.scenarios.values() {
        scenarios.push(summary(&app, s, window).await?);
    }
    Ok(Json(ScenarioList {
        window: Human(window).to_string(),
        scenarios,
    }))
}

pub async fn one(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(query): Query<WindowQuery>,
) -> Result<Json<ScenarioDetail>, ApiError> {
    let window = parse_window(query.window.as_deref())?;
    let s = app
        .catalog
        .current()
        .get(&name)
        .cloned()
        .ok_or_else(|| unknown(&name))?;
    let summary = summary(&app, &s, window).await?;
    let slo = crate::evaluate::slo_view(&app, &name).await?;
    let sc = &s.scenario;
    Ok(Json(ScenarioDetail {
        window: Human(window).to_string(),
        summary,
        timeout: Human(sc.timeout).to_string(),
        configured_regions: sc.regions.clone(),
        steps: sc
            .steps
            .iter()
            .map(|st| StepInfo {
                name: st.name.clone(),
                kind: st.kind().as_str(),
            })
            .collect(),
        files: s.files.keys().cloned().collect(),
        alert: AlertPolicyInfo {
            after: sc.alert.after,
            recover_after: sc.alert.recover_after,
            global_regions: sc.alert.global_regions,
            severity: sc.alert.severity.as_str(),
            runbook: sc.alert.runbook.clone(),
            confirm: sc.alert.confirm,
        },
        alerts: app.alerts.open_for(&name),
        slo,
    }))
}

pub async fn runs(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Query(query): Query<RunsQuery>,
) -> Result<Json<RunList>, ApiError> {
    if app.catalog.current().get(&name).is_none() {
        return Err(unknown(&name));
    }
    let limit = match query.limit.as_deref() {
        None => DEFAULT_RUNS,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_RUNS).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid `limit` `{text}`; expected a number from 1 to {MAX_RUNS}"
                )));
            }
        },
    };
    let region = query.region.filter(|r| !r.is_empty());
    let (scenario, r) = (name.clone(), region.clone());
    let runs = app
        .store
        .read(move |tx| tx.recent_results(&scenario, r.as_deref(), limit))
        .await?;
    Ok(Json(RunList {
        scenario: name,
        region,
        runs,
    }))
}

fn unknown(name: &str) -> ApiError {
    ApiError::not_found(format!("unknown scenario `{name}`"))
}

fn parse_window(text: Option<&str>) -> Result<Duration, ApiError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(DEFAULT_WINDOW);
    };
    match scenarios::duration::parse(text) {
        Ok(d) if !d.is_zero() && d <= MAX_WINDOW => Ok(d),
        _ => Err(ApiError::bad_request(format!(
            "invalid `window` `{text}`; expected a duration from 1ms to 90d, such as `1h`"
        ))),
    }
}

fn schedule(s: &CatalogScenario) -> String {
    match &s.scenario.schedule {
        Schedule::Interval(d) => Human(*d).to_string(),
        Schedule::Cron { expr, timezone, .. } => format!("cron {expr} {timezone}"),
    }
}

async fn summary(
    app: &App,
    s: &CatalogScenario,
    window: Duration,
) -> Result<ScenarioSummary, ApiError> {
    let regions = app.fleet.regions_of(s);
    let since =
        app.clock.now() - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::hours(1));
    let (name, rs) = (s.name.clone(), regions.clone());
    let stats = app
        .store
        .read(move |tx| {
            rs.iter()
                .map(|region| region_stats(tx, &name, region, since))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    let regions = regions
        .into_iter()
        .zip(stats)
        .map(|(region, stats)| {
            let live_probes = app.fleet.live_in(&region).len();
            let (state, _) = app.alerts.region_state(
                &s.name,
                &region,
                live_probes > 0,
                &s.scenario.labels,
                app.clock.now(),
            );
            let state = state.as_str();
            RegionSummary {
                probe: app.fleet.owner(&s.name, &region),
                region,
                state,
                live_probes,
                stats,
            }
        })
        .collect();
    Ok(ScenarioSummary {
        name: s.name.clone(),
        path: s.path.clone(),
        version: s.version.clone(),
        description: s.scenario.description.clone(),
        schedule: schedule(s),
        labels: s.scenario.labels.clone(),
        regions,
    })
}
