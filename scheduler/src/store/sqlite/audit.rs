//! The `audit` table (migration 8).

use rusqlite::{Connection, params};

use crate::store::StoreError;
use crate::store::audit::{Audit, AuditEntry};

impl Audit for Connection {
    fn record_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.prepare_cached(
            "INSERT INTO audit (at, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            e.at.timestamp_millis(),
            e.actor,
            e.action,
            e.target,
            e.detail
        ])?;
        Ok(())
    }

    fn audit_since(&self, since_ms: i64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.prepare_cached(
            "SELECT at, actor, action, target, detail FROM audit WHERE at >= ?1
             ORDER BY at DESC, id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![since_ms, limit], |r| {
            Ok(AuditEntry {
                at: chrono::DateTime::from_timestamp_millis(r.get(0)?).unwrap_or_default(),
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delete_audit_before(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        Ok(self.execute("DELETE FROM audit WHERE at < ?1", params![cutoff_ms])?)
    }
}
