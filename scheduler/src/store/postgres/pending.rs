//! The `pending_evaluation` table; its rows go with their `result_ids`
//! row (retention), by a cascading key.

use scenarios::wire::RunResult;

use super::Conn;
use super::conn::limit;
use crate::store::StoreError;
use crate::store::pending::PendingEvaluation;

impl PendingEvaluation for Conn {
    fn queue_for_evaluation(&self, ids: &[uuid::Uuid], now_ms: i64) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.execute(
            "INSERT INTO pending_evaluation (result_id, queued_at)
             SELECT id, $2 FROM UNNEST($1::UUID[]) AS id
             ON CONFLICT (result_id) DO NOTHING",
            &[&ids, &now_ms],
        )?;
        Ok(())
    }

    fn pending_results(&self, n: usize) -> Result<Vec<RunResult>, StoreError> {
        // Through result_ids to the partition of the result's day.
        let rows = self.query(
            "SELECT r.result_json FROM pending_evaluation p
             JOIN result_ids i ON i.id = p.result_id
             JOIN results r ON r.id = p.result_id AND r.started_at = i.started_at
             ORDER BY p.queued_at, r.started_at LIMIT $1",
            &[&limit(n)],
        )?;
        rows.iter()
            .map(|r| {
                let json: String = r.try_get(0)?;
                serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("stored result: {e}")))
            })
            .collect()
    }

    fn evaluated(&self, ids: &[uuid::Uuid]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.execute(
            "DELETE FROM pending_evaluation WHERE result_id = ANY($1::UUID[])",
            &[&ids],
        )?;
        Ok(())
    }

    fn pending_count(&self) -> Result<i64, StoreError> {
        Ok(self
            .query_one("SELECT COUNT(*) FROM pending_evaluation", &[])?
            .try_get(0)?)
    }
}
