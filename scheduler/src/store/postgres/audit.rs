//! The `audit` table.

use super::Conn;
use super::conn::limit;
use crate::store::StoreError;
use crate::store::audit::{Audit, AuditEntry};

impl Audit for Conn {
    fn record_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
            &[
                &e.at.timestamp_millis(),
                &e.actor,
                &e.action,
                &e.target,
                &e.detail,
            ],
        )?;
        Ok(())
    }

    fn audit_since(&self, since_ms: i64, n: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self.query(
            "SELECT at, actor, action, target, detail FROM audit WHERE at >= $1
             ORDER BY at DESC, id DESC LIMIT $2",
            &[&since_ms, &limit(n)],
        )?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: chrono::DateTime::from_timestamp_millis(r.try_get(0)?).unwrap_or_default(),
                    actor: r.try_get(1)?,
                    action: r.try_get(2)?,
                    target: r.try_get(3)?,
                    detail: r.try_get(4)?,
                })
            })
            .collect()
    }

    fn delete_audit_before(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        self.changed("DELETE FROM audit WHERE at < $1", &[&cutoff_ms])
    }
}
