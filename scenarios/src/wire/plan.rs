//! The plan: what a probe should run (`GET /api/v1/plan`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::time;
use super::version;

/// The scenarios assigned to one probe, and the on-demand runs asked of it.
/// Served with an ETag; unknown fields are ignored when reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Grows with every change of this probe's plan (the
    /// `sonde_agent_plan_version` gauge).
    pub revision: u64,
    /// The probe this plan is for.
    pub probe: String,
    /// The probe's region.
    pub region: String,
    /// Every scenario this probe runs on its schedule, by name.
    pub scenarios: Vec<PlannedScenario>,
    /// Runs to start now (run now, confirmation), each once by its id.
    pub run_now: Vec<RunRequest>,
}

/// One scenario as the catalog holds it; the probe validates and compiles
/// it itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedScenario {
    /// The scenario's name, e.g. `checkout`.
    pub name: String,
    /// File name relative to the scheduler's `scenarios_dir`, e.g.
    /// `shop/checkout.toml`, used in diagnostics.
    pub path: String,
    /// `sha256:` over the source and the files (see
    /// [`scenario_version`](super::scenario_version)).
    pub version: String,
    /// The scenario's TOML text.
    pub source: String,
    /// Files the scenario names (`tls.ca_file`), by the name as written in
    /// the scenario, with their contents (PEM text, 64 KiB at most each).
    pub files: BTreeMap<String, String>,
}

impl PlannedScenario {
    /// The version of `source` and `files` as [`scenario_version`](super::scenario_version)
    /// computes it; a probe compares it with `version` to detect a damaged plan.
    pub fn computed_version(&self) -> String {
        let files = self.files.iter().map(|(n, c)| (n.as_str(), c.as_bytes()));
        version::version_of(&self.source, files)
    }
}

/// A run to start at once, outside the schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRequest {
    /// Id of the request; the result carries it as `run_request`.
    pub id: Uuid,
    /// Name of the scenario to run: one of the plan's, or `inline`'s.
    pub scenario: String,
    /// When it was asked for.
    #[serde(with = "time")]
    pub requested_at: DateTime<Utc>,
    /// Why it was asked for.
    pub reason: RunReason,
    /// A scenario outside the catalog, to run this once (a fleet test run,
    /// `POST /api/v1/runs`); absent for a scenario of the plan. A probe
    /// that does not know the field finds no such scenario in its plan and
    /// ignores the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<PlannedScenario>,
}

/// Why a run was asked for outside the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunReason {
    /// An operator asked (`POST /api/v1/scenarios/{name}/run`).
    RunNow,
    /// The alert engine confirms a regional failure from another region
    /// (`[alert] confirm = true`).
    Confirmation,
}
