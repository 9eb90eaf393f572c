//! One scenario in detail: its summary, steps, alert policy, open alerts
//! and SLO.

use std::time::Duration;

use scenarios::duration::Human;
use scenarios::model::{Severity, StepKind, Threshold};
use serde::{Serialize, Serializer};

use super::anomaly::{AnomalyView, anomaly_view};
use super::scenarios::{ScenarioSummary, summary};
use super::slo::{SloView, slo_view};
use crate::alert::Alert;
use crate::app::App;
use crate::store::StoreError;

#[derive(Debug, Serialize)]
pub struct StepInfo {
    pub name: String,
    pub kind: StepKind,
}

#[derive(Debug, Serialize)]
pub struct AlertPolicyInfo {
    pub after: ThresholdInfo,
    pub recover_after: ThresholdInfo,
    pub global_regions: u32,
    #[serde(serialize_with = "severity_name")]
    pub severity: Severity,
    pub runbook: Option<String>,
    pub confirm: bool,
}

/// `after` / `recover_after` as `{"failures": 3, "of": 5}`; the
/// consecutive form `after = 3` is `{"failures": 3, "of": 3}`. For
/// `recover_after`, `failures` counts good runs: one shape for both keys.
#[derive(Debug, Serialize)]
pub struct ThresholdInfo {
    pub failures: u32,
    pub of: u32,
}

impl From<Threshold> for ThresholdInfo {
    fn from(t: Threshold) -> Self {
        ThresholdInfo {
            failures: t.runs,
            of: t.of,
        }
    }
}

/// `3` or `3 of 5`, as the scenario writes it.
impl std::fmt::Display for ThresholdInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Threshold {
            runs: self.failures,
            of: self.of,
        }
        .fmt(f)
    }
}

fn severity_name<S: Serializer>(severity: &Severity, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(severity.as_str())
}

#[derive(Debug, Serialize)]
pub struct ScenarioDetail {
    /// The stats' window, as `1h`.
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
    pub alerts: Vec<Alert>,
    /// Error budget and burn rates; `null` without an `slo` objective.
    pub slo: Option<SloView>,
    /// Latency baselines per region; `null` without `[alert] anomaly`.
    pub anomaly: Option<AnomalyView>,
}

/// Scenario `name` with stats over `window`; `None` when the catalog has
/// no such scenario.
///
/// # Errors
/// Store errors.
pub async fn scenario_detail(
    app: &App,
    name: &str,
    window: Duration,
) -> Result<Option<ScenarioDetail>, StoreError> {
    let Some(s) = app.catalog.current().get(name).cloned() else {
        return Ok(None);
    };
    let summary = summary(app, &s, window).await?;
    let slo = slo_view(app, name).await?;
    let regions = summary.regions.iter().map(|r| r.region.clone()).collect();
    let anomaly = anomaly_view(app, name, regions).await?;
    let sc = &s.scenario;
    Ok(Some(ScenarioDetail {
        window: Human(window).to_string(),
        summary,
        timeout: Human(sc.timeout).to_string(),
        configured_regions: sc.regions.clone(),
        steps: sc
            .steps
            .iter()
            .map(|st| StepInfo {
                name: st.name.clone(),
                kind: st.kind(),
            })
            .collect(),
        files: s.files.keys().cloned().collect(),
        alert: AlertPolicyInfo {
            after: sc.alert.after.into(),
            recover_after: sc.alert.recover_after.into(),
            global_regions: sc.alert.global_regions,
            severity: sc.alert.severity,
            runbook: sc.alert.runbook.clone(),
            confirm: sc.alert.confirm,
        },
        alerts: app.alerts.open_for(name),
        slo,
        anomaly,
    }))
}
