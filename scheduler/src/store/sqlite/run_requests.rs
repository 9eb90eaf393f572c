//! The `run_requests` table (migration 11).

use rusqlite::{Connection, params};
use scenarios::wire::RunRequest;
use uuid::Uuid;

use super::corrupt;
use crate::store::StoreError;
use crate::store::run_requests::{RunRequestRow, RunRequests};

impl RunRequests for Connection {
    fn save_run_request(&self, probe: &str, request: &RunRequest) -> Result<(), StoreError> {
        let json = serde_json::to_string(request).map_err(|e| corrupt("run request", e))?;
        self.prepare_cached(
            "INSERT OR IGNORE INTO run_requests (id, probe, scenario, requested_at, request_json)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            request.id.to_string(),
            probe,
            request.scenario,
            request.requested_at.timestamp_millis(),
            json
        ])?;
        Ok(())
    }

    fn answer_run_request(&self, id: Uuid, answer_json: &str) -> Result<(), StoreError> {
        self.prepare_cached(
            "UPDATE run_requests SET answer_json = ?2 WHERE id = ?1 AND answer_json IS NULL",
        )?
        .execute(params![id.to_string(), answer_json])?;
        Ok(())
    }

    fn run_request(&self, id: Uuid) -> Result<Option<RunRequestRow>, StoreError> {
        let mut stmt = self.prepare_cached(
            "SELECT probe, request_json, answer_json FROM run_requests WHERE id = ?1",
        )?;
        let mut rows = stmt.query_map([id.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        rows.next()
            .transpose()?
            .map(|(probe, request, answer)| {
                RunRequestRow::from_json(probe, &request, answer.as_deref())
            })
            .transpose()
    }

    fn run_requests_since(&self, since_ms: i64) -> Result<Vec<RunRequestRow>, StoreError> {
        let mut stmt = self.prepare_cached(
            "SELECT probe, request_json, answer_json FROM run_requests
             WHERE requested_at >= ?1 ORDER BY requested_at, id",
        )?;
        let rows = stmt.query_map([since_ms], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (probe, request, answer) = row?;
            RunRequestRow::from_json(probe, &request, answer.as_deref())
        })
        .collect()
    }

    fn delete_run_requests_before(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        Ok(self
            .prepare_cached("DELETE FROM run_requests WHERE requested_at < ?1")?
            .execute([cutoff_ms])?)
    }
}
