//! The confirmation runs still out: `confirm_requests`.

use scenarios::wire::RunRequest;
use uuid::Uuid;

use super::{Conn, corrupt};
use crate::store::alerts::ConfirmRequestRow;
use crate::store::{RunRequests as _, StoreError};

pub(super) fn save(conn: &Conn, row: &ConfirmRequestRow) -> Result<(), StoreError> {
    let json = serde_json::to_string(&row.request).map_err(|e| corrupt("run request", e))?;
    conn.execute(
        "INSERT INTO confirm_requests (id, alert_row, probe, region, scenario, requested_at,
            request_json) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &row.request.id.to_string(),
            &row.alert_row,
            &row.probe,
            &row.region,
            &row.request.scenario,
            &row.request.requested_at.timestamp_millis(),
            &json,
        ],
    )?;
    // A confirmation run is an on-demand run like any other: every
    // replica's fleet takes it from there.
    conn.save_run_request(&row.probe, &row.request)
}

pub(super) fn pending(conn: &Conn) -> Result<Vec<ConfirmRequestRow>, StoreError> {
    let rows = conn.query(
        "SELECT alert_row, probe, region, request_json FROM confirm_requests
         ORDER BY requested_at, id",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            let json: String = r.try_get(3)?;
            let request: RunRequest =
                serde_json::from_str(&json).map_err(|e| corrupt("stored run request", e))?;
            Ok(ConfirmRequestRow {
                alert_row: r.try_get(0)?,
                probe: r.try_get(1)?,
                region: r.try_get(2)?,
                request,
            })
        })
        .collect()
}

pub(super) fn delete(conn: &Conn, id: Uuid) -> Result<bool, StoreError> {
    let deleted = conn.execute(
        "DELETE FROM confirm_requests WHERE id = $1",
        &[&id.to_string()],
    )?;
    Ok(deleted > 0)
}

pub(super) fn delete_before(conn: &Conn, cutoff_ms: i64) -> Result<usize, StoreError> {
    conn.changed(
        "DELETE FROM confirm_requests WHERE requested_at < $1",
        &[&cutoff_ms],
    )
}
