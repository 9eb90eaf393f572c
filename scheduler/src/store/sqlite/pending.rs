//! The `pending_evaluation` table (migration 10).

use rusqlite::{Connection, params};
use scenarios::wire::RunResult;

use crate::store::StoreError;
use crate::store::pending::PendingEvaluation;

impl PendingEvaluation for Connection {
    fn queue_for_evaluation(&self, ids: &[uuid::Uuid], now_ms: i64) -> Result<(), StoreError> {
        let mut stmt = self.prepare_cached(
            "INSERT OR IGNORE INTO pending_evaluation (result_id, queued_at) VALUES (?1, ?2)",
        )?;
        for id in ids {
            stmt.execute(params![id.as_bytes().as_slice(), now_ms])?;
        }
        Ok(())
    }

    fn pending_results(&self, limit: usize) -> Result<Vec<RunResult>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.prepare_cached(
            "SELECT r.result_json, r.result_lz4 FROM pending_evaluation p JOIN results r ON r.id = p.result_id
             ORDER BY p.queued_at, r.started_at LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit], |r| super::stored_json::columns(r, 0))?;
        rows.map(|row| {
            let (text, lz4) = row?;
            super::stored_json::parse(&text, lz4.as_deref())
        })
        .collect()
    }

    fn evaluated(&self, ids: &[uuid::Uuid]) -> Result<(), StoreError> {
        let mut stmt =
            self.prepare_cached("DELETE FROM pending_evaluation WHERE result_id = ?1")?;
        for id in ids {
            stmt.execute(params![id.as_bytes().as_slice()])?;
        }
        // Ids whose result retention deleted before the leader got to it.
        self.prepare_cached(
            "DELETE FROM pending_evaluation
             WHERE NOT EXISTS (SELECT 1 FROM results WHERE results.id = result_id)",
        )?
        .execute([])?;
        Ok(())
    }

    fn pending_count(&self) -> Result<i64, StoreError> {
        Ok(self.query_row("SELECT COUNT(*) FROM pending_evaluation", [], |r| r.get(0))?)
    }
}
