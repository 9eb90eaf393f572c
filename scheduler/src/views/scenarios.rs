//! The scenario list: every scenario with one summary per region.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use scenarios::duration::Human;
use scenarios::model::Schedule;
use serde::{Serialize, Serializer};

use super::region_stats::{RegionStats, region_stats};
use crate::alert::RegionState;
use crate::app::App;
use crate::catalog::CatalogScenario;
use crate::store::StoreError;

/// The window of the stats when the caller names none.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3600);

/// One scenario in one region.
#[derive(Debug, Serialize)]
pub struct RegionSummary {
    pub region: String,
    /// The alert engine's state: `up`, `down` (after `after` failed runs),
    /// `degraded` (latency objective missed), `muted` (silenced) or
    /// `unknown` (no run yet, or no live probe in the region that can run
    /// it).
    #[serde(serialize_with = "state_name")]
    pub state: RegionState,
    /// The probe that runs it there now; `null` when no live one can.
    pub probe: Option<String>,
    pub live_probes: usize,
    #[serde(flatten)]
    pub stats: RegionStats,
}

fn state_name<S: Serializer>(state: &RegionState, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(state.as_str())
}

/// How a scenario is scheduled; serialized as `30s` for an interval and
/// `cron */5 * * * * UTC` for a cron schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleView {
    Interval(Duration),
    Cron { expr: String, timezone: String },
}

impl fmt::Display for ScheduleView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleView::Interval(d) => write!(f, "{}", Human(*d)),
            ScheduleView::Cron { expr, timezone } => write!(f, "cron {expr} {timezone}"),
        }
    }
}

impl Serialize for ScheduleView {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<&Schedule> for ScheduleView {
    fn from(schedule: &Schedule) -> Self {
        match schedule {
            Schedule::Interval(d) => ScheduleView::Interval(*d),
            Schedule::Cron { expr, timezone, .. } => ScheduleView::Cron {
                expr: expr.to_string(),
                timezone: timezone.to_string(),
            },
        }
    }
}

/// A scenario with its per-region summaries.
#[derive(Debug, Serialize)]
pub struct ScenarioSummary {
    pub name: String,
    pub path: String,
    pub version: String,
    pub description: Option<String>,
    pub schedule: ScheduleView,
    pub labels: BTreeMap<String, String>,
    /// What the probe that runs it must have announced, e.g. `["browser"]`.
    pub needs: Vec<&'static str>,
    pub regions: Vec<RegionSummary>,
    /// Regions where no probe runs it now, with the reason.
    pub unassigned: Vec<Unassigned>,
}

/// A region a scenario should run in but no probe runs it now.
#[derive(Debug, Serialize)]
pub struct Unassigned {
    pub region: String,
    /// `no live probe`, or `no live probe with the browser capability`
    /// when the region's live probes cannot run it.
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct ScenarioList {
    /// The stats' window, as `1h`.
    pub window: String,
    pub scenarios: Vec<ScenarioSummary>,
}

/// Every scenario of the catalog with stats over `window`.
///
/// # Errors
/// Store errors.
pub async fn scenario_list(app: &App, window: Duration) -> Result<ScenarioList, StoreError> {
    let catalog = app.catalog.current();
    let mut scenarios = Vec::new();
    for s in catalog.scenarios.values() {
        scenarios.push(summary(app, s, window).await?);
    }
    Ok(ScenarioList {
        window: Human(window).to_string(),
        scenarios,
    })
}

/// `s` in each of its regions, with stats over `window`.
///
/// # Errors
/// Store errors.
pub(super) async fn summary(
    app: &App,
    s: &CatalogScenario,
    window: Duration,
) -> Result<ScenarioSummary, StoreError> {
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
    let unassigned = regions
        .iter()
        .filter_map(|region| {
            let reason = app.fleet.unassigned_reason(s, region)?;
            Some(Unassigned {
                region: region.clone(),
                reason,
            })
        })
        .collect();
    let regions = regions
        .into_iter()
        .zip(stats)
        .map(|(region, stats)| {
            let live_probes = app.fleet.live_in(&region).len();
            let probe = app.fleet.owner(&s.name, &s.needs, &region);
            // Without a probe that can run it, what its last runs showed
            // is no longer news: unknown, never a false down.
            let (state, _) = app.alerts.region_state(
                &s.name,
                &region,
                probe.is_some(),
                &s.scenario.labels,
                app.clock.now(),
            );
            RegionSummary {
                probe,
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
        schedule: ScheduleView::from(&s.scenario.schedule),
        labels: s.scenario.labels.clone(),
        needs: s.needs.names(),
        regions,
        unassigned,
    })
}
