//! The read side's answers as typed views: what the JSON API serializes
//! and the status page renders, built in one place so the two can never
//! disagree. Field names and values are the API's (`docs/api.md`).
//!
//! - `scenarios`: the scenario list and each region's summary;
//!   `region_stats`: the stored runs behind a summary.
//! - `scenario`: one scenario in detail; `slo`: its error budget;
//!   `anomaly`: its latency baselines.
//! - `runs`: a scenario's recent runs.
//! - `alerts`: alerts with their timelines, and silences;
//!   `alert_report`: the on-call review's figures per scenario.
//! - `uptime`: availability per scenario × region and day, incidents;
//!   `time_spans`: its union and overlap of spans of time.
//! - `maintenance`: maintenance windows.
//! - `probes`: probes and regions. `catalog`: the scenario files.

mod alert_report;
mod alerts;
mod anomaly;
mod catalog;
mod maintenance;
mod probes;
mod region_stats;
mod runs;
mod scenario;
mod scenarios;
mod slo;
mod time_spans;
mod uptime;

pub use alert_report::{AlertReport, Figures, ScenarioReport, alert_report};
pub use alerts::{AlertList, AlertView, SilenceList, SilenceView, alert_list, silence_list};
pub use anomaly::{AnomalyRegion, AnomalyView, VerdictView, anomaly_view};
pub use catalog::{CatalogView, FileStatus, FileView, ReplicaView, catalog_view, replica_views};
pub use maintenance::{MaintenanceList, MaintenanceView, maintenance_list};
pub use probes::{ProbeList, ProbeView, RegionView, probe_list};
pub use region_stats::{Percentiles, RegionStats, percentiles, region_stats};
pub use runs::{RunList, run_list};
pub use scenario::{AlertPolicyInfo, ScenarioDetail, StepInfo, scenario_detail};
pub use scenarios::{
    DEFAULT_WINDOW, RegionSummary, ScenarioList, ScenarioSummary, ScheduleView, scenario_list,
};
pub use slo::{SloView, slo_view};
pub use uptime::{
    DayUptime, Figures as UptimeFigures, Incident, RegionUptime, ScenarioUptime, UptimeReport,
    uptime_report,
};
