//! The confirmation runs still out (migration 4): `confirm_requests`.

use rusqlite::{Connection, Row, params};
use scenarios::wire::RunRequest;
use uuid::Uuid;

use super::corrupt;
use crate::store::alerts::ConfirmRequestRow;
use crate::store::{RunRequests as _, StoreError};

pub(super) fn save(conn: &Connection, row: &ConfirmRequestRow) -> Result<(), StoreError> {
    let json = serde_json::to_string(&row.request).map_err(|e| corrupt("run request", e))?;
    conn.prepare_cached(
        "INSERT INTO confirm_requests (id, alert_row, probe, region, scenario, requested_at,
            request_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        row.request.id.to_string(),
        row.alert_row,
        row.probe,
        row.region,
        row.request.scenario,
        row.request.requested_at.timestamp_millis(),
        json
    ])?;
    // A confirmation run is an on-demand run like any other: every
    // replica's fleet takes it from there.
    conn.save_run_request(&row.probe, &row.request)
}

pub(super) fn pending(conn: &Connection) -> Result<Vec<ConfirmRequestRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT alert_row, probe, region, request_json FROM confirm_requests
         ORDER BY requested_at, id",
    )?;
    let rows = stmt.query_map([], confirm_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn confirm_row(r: &Row<'_>) -> rusqlite::Result<ConfirmRequestRow> {
    let json: String = r.get(3)?;
    let request: RunRequest = serde_json::from_str(&json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(ConfirmRequestRow {
        alert_row: r.get(0)?,
        probe: r.get(1)?,
        region: r.get(2)?,
        request,
    })
}

pub(super) fn delete(conn: &Connection, id: Uuid) -> Result<bool, StoreError> {
    let deleted = conn
        .prepare_cached("DELETE FROM confirm_requests WHERE id = ?1")?
        .execute([id.to_string()])?;
    Ok(deleted > 0)
}

pub(super) fn delete_before(conn: &Connection, cutoff_ms: i64) -> Result<usize, StoreError> {
    Ok(conn
        .prepare_cached("DELETE FROM confirm_requests WHERE requested_at < ?1")?
        .execute([cutoff_ms])?)
}
