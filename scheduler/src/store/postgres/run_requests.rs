//! The `run_requests` table (migration 3). Each change is announced on
//! [`CHANNEL`] at COMMIT, so replicas waiting on it act at once.

use scenarios::wire::RunRequest;
use uuid::Uuid;

use super::{Conn, corrupt};
use crate::store::StoreError;
use crate::store::run_requests::{RunRequestRow, RunRequests};

/// The LISTEN/NOTIFY channel of on-demand runs.
pub(super) const CHANNEL: &str = "sonde_run_requests";

impl RunRequests for Conn {
    fn save_run_request(&self, probe: &str, request: &RunRequest) -> Result<(), StoreError> {
        let json = serde_json::to_string(request).map_err(|e| corrupt("run request", e))?;
        self.execute(
            "INSERT INTO run_requests (id, probe, scenario, requested_at, request_json)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            &[
                &request.id.to_string(),
                &probe,
                &request.scenario,
                &request.requested_at.timestamp_millis(),
                &json,
            ],
        )?;
        announce(self)
    }

    fn answer_run_request(&self, id: Uuid, answer_json: &str) -> Result<(), StoreError> {
        let changed = self.changed(
            "UPDATE run_requests SET answer_json = $2 WHERE id = $1 AND answer_json IS NULL",
            &[&id.to_string(), &answer_json],
        )?;
        if changed > 0 {
            announce(self)?;
        }
        Ok(())
    }

    fn run_request(&self, id: Uuid) -> Result<Option<RunRequestRow>, StoreError> {
        let rows = self.query(
            "SELECT probe, request_json, answer_json FROM run_requests WHERE id = $1",
            &[&id.to_string()],
        )?;
        rows.first()
            .map(|r| {
                let request: String = r.try_get(1)?;
                let answer: Option<String> = r.try_get(2)?;
                RunRequestRow::from_json(r.try_get(0)?, &request, answer.as_deref())
            })
            .transpose()
    }

    fn run_requests_since(&self, since_ms: i64) -> Result<Vec<RunRequestRow>, StoreError> {
        let rows = self.query(
            "SELECT probe, request_json, answer_json FROM run_requests
             WHERE requested_at >= $1 ORDER BY requested_at, id",
            &[&since_ms],
        )?;
        rows.iter()
            .map(|r| {
                let request: String = r.try_get(1)?;
                let answer: Option<String> = r.try_get(2)?;
                RunRequestRow::from_json(r.try_get(0)?, &request, answer.as_deref())
            })
            .collect()
    }

    fn delete_run_requests_before(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        self.changed(
            "DELETE FROM run_requests WHERE requested_at < $1",
            &[&cutoff_ms],
        )
    }
}

/// Tells every listening replica, when this transaction commits, that
/// on-demand runs changed (PostgreSQL folds repeats within a transaction).
fn announce(conn: &Conn) -> Result<(), StoreError> {
    conn.execute("SELECT pg_notify($1, '')", &[&CHANNEL])?;
    Ok(())
}
