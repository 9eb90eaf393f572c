//! The API's JSON answers as the status page reads them: only the fields
//! it shows. The page is built from these, never from its own queries.

use std::collections::BTreeMap;

use scenarios::wire::RunResult;
use serde::Deserialize;

use crate::alert::Alert;

#[derive(Debug, Deserialize)]
pub struct ScenarioList {
    pub window: String,
    pub scenarios: Vec<Summary>,
}

#[derive(Debug, Deserialize)]
pub struct Summary {
    pub name: String,
    pub path: String,
    pub description: Option<String>,
    pub schedule: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub regions: Vec<RegionSummary>,
}

#[derive(Debug, Deserialize)]
pub struct RegionSummary {
    pub region: String,
    pub state: String,
    pub probe: Option<String>,
    pub live_probes: usize,
    pub last_outcome: Option<String>,
    pub last_run_at: Option<String>,
    pub runs: usize,
    pub success_ratio: Option<f64>,
    pub duration_ms: Option<Percentiles>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

#[derive(Debug, Deserialize)]
pub struct ScenarioDetail {
    pub window: String,
    #[serde(flatten)]
    pub summary: Summary,
    pub timeout: String,
    pub steps: Vec<StepInfo>,
    pub alert: AlertPolicy,
    /// Open alerts of this scenario.
    pub alerts: Vec<Alert>,
    pub slo: Option<Slo>,
}

#[derive(Debug, Deserialize)]
pub struct StepInfo {
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Deserialize)]
pub struct AlertPolicy {
    pub after: u32,
    pub recover_after: u32,
    pub severity: String,
    pub runbook: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Slo {
    pub availability: f64,
    pub window: String,
    pub budget_remaining: f64,
    #[serde(default)]
    pub burn_rates: BTreeMap<String, f64>,
    pub deploy_ok: bool,
}

#[derive(Debug, Deserialize)]
pub struct AlertList {
    pub open: Vec<AlertView>,
    pub recent: Vec<AlertView>,
}

#[derive(Debug, Deserialize)]
pub struct AlertView {
    #[serde(flatten)]
    pub alert: Alert,
    pub status: String,
    #[serde(default)]
    pub grouped: bool,
    #[serde(default)]
    pub muted: bool,
}

#[derive(Debug, Deserialize)]
pub struct ProbeList {
    pub probes: Vec<Probe>,
    pub regions: Vec<Region>,
}

#[derive(Debug, Deserialize)]
pub struct Probe {
    pub name: String,
    pub region: String,
    pub version: Option<String>,
    pub last_seen: String,
    pub up: bool,
    pub assigned: Vec<String>,
    pub spool_depth: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct Region {
    pub region: String,
    pub probes: usize,
    pub unassigned: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Catalog {
    pub generation: u64,
    pub scenarios: usize,
    pub invalid_files: usize,
    pub files: Vec<CatalogFile>,
}

#[derive(Debug, Deserialize)]
pub struct CatalogFile {
    pub path: String,
    pub status: String,
    pub scenario: Option<String>,
    pub serving_last_good: bool,
    pub diagnostics: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RunList {
    pub runs: Vec<RunResult>,
}
