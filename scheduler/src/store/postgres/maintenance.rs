//! The `maintenance` table: windows made through the API, kept as
//! written so they rebuild exactly as they were checked.

use super::{Conn, corrupt};
use crate::maintenance::{Source, Spec, Window};
use crate::store::StoreError;

pub(super) fn save(conn: &Conn, w: &Window) -> Result<(), StoreError> {
    let spec = serde_json::to_string(&w.spec()).map_err(|e| corrupt("maintenance window", e))?;
    let ends_at = match &w.times {
        crate::maintenance::Times::Once { start } => {
            let length = chrono::Duration::from_std(w.duration).unwrap_or_default();
            Some((*start + length).timestamp_millis())
        }
        crate::maintenance::Times::Every { .. } => None,
    };
    conn.execute(
        "INSERT INTO maintenance (id, spec_json, ends_at, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET spec_json = excluded.spec_json, ends_at = excluded.ends_at",
        &[
            &w.id,
            &spec,
            &ends_at,
            &w.created_by.as_deref().unwrap_or(""),
            &w.created_at.map_or(0, |t| t.timestamp_millis()),
        ],
    )?;
    Ok(())
}

pub(super) fn delete(conn: &Conn, id: &str) -> Result<bool, StoreError> {
    Ok(conn.execute("DELETE FROM maintenance WHERE id = $1", &[&id])? > 0)
}

pub(super) fn all(conn: &Conn) -> Result<Vec<Window>, StoreError> {
    let rows = conn.query(
        "SELECT id, spec_json, created_by, created_at FROM maintenance ORDER BY created_at, id",
        &[],
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let (by, at): (String, i64) = (row.try_get(2)?, row.try_get(3)?);
        let built = serde_json::from_str::<Spec>(&json)
            .map_err(|e| e.to_string())
            .and_then(|spec| spec.build(id.clone(), Source::Api));
        match built {
            Ok(mut w) => {
                w.created_by = Some(by);
                w.created_at = chrono::DateTime::from_timestamp_millis(at);
                out.push(w);
            }
            Err(e) => {
                tracing::error!(window = %id, error = %e, "A stored maintenance window no longer parses; skipped.")
            }
        }
    }
    Ok(out)
}

/// Deletes one-off windows that closed before `cutoff_ms`.
pub(super) fn delete_closed_before(conn: &Conn, cutoff_ms: i64) -> Result<usize, StoreError> {
    conn.changed(
        "DELETE FROM maintenance WHERE ends_at IS NOT NULL AND ends_at < $1",
        &[&cutoff_ms],
    )
}
