//! Run results: stored once by id, read back as history.

use scenarios::wire::{Outcome, RunResult};

use super::StoreError;
use crate::alert::slo::Counts;

/// One result as stored. Times are Unix milliseconds.
#[derive(Debug, Clone)]
pub struct ResultRow {
    /// The result's UUID (stored as its 16 bytes).
    pub id: uuid::Uuid,
    pub scenario: String,
    pub region: String,
    pub probe: String,
    pub version: String,
    pub scheduled_at: i64,
    pub started_at: i64,
    pub duration_ms: f64,
    pub outcome: Outcome,
    pub run_request: Option<String>,
    /// 1 for a run, 2, 3, … for its retries.
    pub attempt: u32,
    /// The first attempt's id, on a retry.
    pub retry_of: Option<uuid::Uuid>,
    pub result_json: String,
    /// It ran in a maintenance window with `exclude_from_slo`: stored and
    /// shown, not counted in the SLO.
    pub slo_excluded: bool,
}

impl ResultRow {
    /// The row for `result`, whose JSON text as received is `json`.
    pub fn from_raw(result: &RunResult, json: &str) -> ResultRow {
        ResultRow {
            id: result.id,
            scenario: result.scenario.clone(),
            region: result.region.clone(),
            probe: result.probe.clone(),
            version: result.version.clone(),
            scheduled_at: result.scheduled_at.timestamp_millis(),
            started_at: result.started_at.timestamp_millis(),
            duration_ms: result.duration_ms,
            outcome: result.outcome,
            run_request: result.run_request.map(|id| id.to_string()),
            attempt: result.attempt,
            retry_of: result.retry_of,
            result_json: json.to_owned(),
            slo_excluded: false,
        }
    }

    /// The row for a result that arrived as a value (tests, one-off tools).
    ///
    /// # Errors
    /// When the result cannot be serialized.
    pub fn of(result: &RunResult) -> Result<ResultRow, StoreError> {
        let json = serde_json::to_string(result).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(ResultRow::from_raw(result, &json))
    }
}

/// The newest run of a scenario in a region.
#[derive(Debug, Clone, PartialEq)]
pub struct LastRun {
    pub outcome: Outcome,
    /// Unix milliseconds.
    pub started_at: i64,
    pub probe: String,
}

/// A scenario's counted runs in one region on one UTC day: the uptime
/// report's figures, summed by the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCounts {
    pub scenario: String,
    pub region: String,
    /// Days since the Unix epoch (UTC).
    pub day: i64,
    /// Runs that count: the last attempt of each run, outside maintenance
    /// windows that exclude them from the SLO.
    pub runs: u64,
    /// Of them, those that did not succeed.
    pub failed: u64,
    /// Last attempts left out because they ran in such a window.
    pub excluded: u64,
}

/// Milliseconds in a UTC day (Unix time has no leap seconds).
pub const DAY_MS: i64 = 86_400_000;

/// The `results` table.
pub trait Results {
    /// Inserts each row unless its id is stored already; says for each
    /// whether it was new.
    ///
    /// # Errors
    /// Database errors.
    fn insert_results(
        &self,
        rows: &mut dyn Iterator<Item = &ResultRow>,
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError>;

    /// How many results are stored.
    ///
    /// # Errors
    /// Database errors.
    fn count_results(&self) -> Result<i64, StoreError>;

    /// The newest results of one scenario (in one region, or all), newest
    /// first.
    ///
    /// # Errors
    /// Database errors, or a stored result that no longer parses.
    fn recent_results(
        &self,
        scenario: &str,
        region: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunResult>, StoreError>;

    /// Outcome and duration of a scenario's runs in a region since
    /// `since_ms`.
    ///
    /// # Errors
    /// Database errors.
    fn results_since(
        &self,
        scenario: &str,
        region: &str,
        since_ms: i64,
    ) -> Result<Vec<(Outcome, f64)>, StoreError>;

    /// Start (Unix ms) and duration of a scenario's successful runs in a
    /// region since `since_ms`, oldest first: a latency anomaly's history.
    /// A success is always an attempt's last result (retries follow only
    /// failures).
    ///
    /// # Errors
    /// Database errors.
    fn successful_runs_since(
        &self,
        scenario: &str,
        region: &str,
        since_ms: i64,
    ) -> Result<Vec<(i64, f64)>, StoreError>;

    /// The newest run of a scenario in a region.
    ///
    /// # Errors
    /// Database errors.
    fn last_result(&self, scenario: &str, region: &str) -> Result<Option<LastRun>, StoreError>;

    /// Calls `each` with every stored result, oldest first (rebuilding the
    /// metrics at start-up). Rows that no longer parse are skipped and
    /// counted.
    ///
    /// # Errors
    /// Database errors.
    fn for_each_result(&self, each: &mut dyn FnMut(RunResult)) -> Result<usize, StoreError>;

    /// For each of `since` (Unix ms), the runs of `scenario` started after
    /// it and up to `until_ms`, and how many of them failed: the SLO's
    /// windows in one pass. Only an attempt's last result counts: a
    /// failure whose retry (the next attempt) is stored is left out; and
    /// runs in a maintenance window that excludes them from the SLO
    /// (`slo_excluded`) are not counted.
    ///
    /// # Errors
    /// Database errors.
    fn outcome_counts(
        &self,
        scenario: &str,
        until_ms: i64,
        since: &[i64],
    ) -> Result<Vec<Counts>, StoreError>;

    /// Per scenario, region and UTC day, the runs started in
    /// `from_ms..to_ms` (of `scenario` only, when given), counted as
    /// [`Results::outcome_counts`] counts them: only an attempt's last
    /// result, and runs with `slo_excluded` apart. Summed by the database
    /// (`GROUP BY` day), ordered by scenario, region and day.
    ///
    /// # Errors
    /// Database errors.
    fn daily_counts(
        &self,
        scenario: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<DayCounts>, StoreError>;

    /// When the oldest stored run of `scenario` started (Unix ms): how
    /// much history its SLO windows cover. `None` without runs.
    ///
    /// # Errors
    /// Database errors.
    fn first_run_at(&self, scenario: &str) -> Result<Option<i64>, StoreError>;

    /// Deletes at most `limit` results that started before `cutoff_ms`;
    /// returns how many.
    ///
    /// # Errors
    /// Database errors.
    fn delete_results_before(&self, cutoff_ms: i64, limit: usize) -> Result<usize, StoreError>;
}
