//! Run results: inserting them once by id, and reading history.

use rusqlite::{Connection, OptionalExtension, params};
use scenarios::wire::{Outcome, RunResult};

use super::StoreError;

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
    pub result_json: String,
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
            result_json: json.to_owned(),
        }
    }
}

/// Inserts each row unless its id is stored already; says for each
/// whether it was new.
///
/// # Errors
/// SQL errors.
pub fn insert(conn: &Connection, rows: &[ResultRow], now_ms: i64) -> Result<Vec<bool>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO results (id, scenario, region, probe, version, scheduled_at,
            started_at, duration_ms, outcome, run_request, result_json, ingested_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    let mut inserted = Vec::with_capacity(rows.len());
    for r in rows {
        let changed = stmt.execute(params![
            r.id.as_bytes().as_slice(),
            r.scenario,
            r.region,
            r.probe,
            r.version,
            r.scheduled_at,
            r.started_at,
            r.duration_ms,
            r.outcome.as_str(),
            r.run_request,
            r.result_json,
            now_ms
        ])?;
        inserted.push(changed == 1);
    }
    Ok(inserted)
}

/// How many results are stored.
///
/// # Errors
/// SQL errors.
pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM results", [], |row| row.get(0))?)
}

/// The newest results of one scenario (in one region, or all), newest first.
///
/// # Errors
/// SQL errors, or a stored result that no longer parses.
pub fn recent(
    conn: &Connection,
    scenario: &str,
    region: Option<&str>,
    limit: usize,
) -> Result<Vec<RunResult>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    // Two statements, so each uses the (scenario, region, started_at) index.
    let (sql, region) = match region {
        Some(region) => (
            "SELECT result_json FROM results WHERE scenario = ?1 AND region = ?2
             ORDER BY started_at DESC, id DESC LIMIT ?3",
            region,
        ),
        None => (
            "SELECT result_json FROM results WHERE scenario = ?1 AND ?2 = ''
             ORDER BY started_at DESC, id DESC LIMIT ?3",
            "",
        ),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![scenario, region, limit], |row| {
        row.get::<_, String>(0)
    })?;
    let mut out = Vec::new();
    for json in rows {
        out.push(parse(&json?)?);
    }
    Ok(out)
}

/// Outcome and duration of a scenario's runs in a region since `since_ms`.
///
/// # Errors
/// SQL errors.
pub fn window(
    conn: &Connection,
    scenario: &str,
    region: &str,
    since_ms: i64,
) -> Result<Vec<(Outcome, f64)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT outcome, duration_ms FROM results
         WHERE scenario = ?1 AND region = ?2 AND started_at >= ?3",
    )?;
    let rows = stmt.query_map(params![scenario, region, since_ms], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, f64>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (outcome, duration) = row?;
        out.push((outcome_of(&outcome)?, duration));
    }
    Ok(out)
}

/// The newest run of a scenario in a region: its outcome, start and probe.
///
/// # Errors
/// SQL errors.
pub fn last(
    conn: &Connection,
    scenario: &str,
    region: &str,
) -> Result<Option<(Outcome, i64, String)>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT outcome, started_at, probe FROM results
             WHERE scenario = ?1 AND region = ?2 ORDER BY started_at DESC LIMIT 1",
        )?
        .query_row(params![scenario, region], |row| {
            Ok((row.get::<_, String>(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()?;
    match row {
        Some((outcome, at, probe)) => Ok(Some((outcome_of(&outcome)?, at, probe))),
        None => Ok(None),
    }
}

/// Calls `each` with every stored result, oldest first (rebuilding the
/// metrics at start-up). Rows that no longer parse are skipped and counted.
///
/// # Errors
/// SQL errors.
pub fn for_each(conn: &Connection, mut each: impl FnMut(RunResult)) -> Result<usize, StoreError> {
    let mut stmt = conn.prepare("SELECT result_json FROM results ORDER BY started_at")?;
    let mut rows = stmt.query([])?;
    let mut damaged = 0;
    while let Some(row) = rows.next()? {
        let json: String = row.get(0)?;
        match serde_json::from_str(&json) {
            Ok(result) => each(result),
            Err(_) => damaged += 1,
        }
    }
    Ok(damaged)
}

fn parse(json: &str) -> Result<RunResult, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("stored result: {e}")))
}

fn outcome_of(s: &str) -> Result<Outcome, StoreError> {
    Outcome::ALL
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown outcome `{s}`")))
}
