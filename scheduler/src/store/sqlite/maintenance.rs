//! The `maintenance` table (migration 7): windows made through the API,
//! kept as written so they rebuild exactly as they were checked.

use rusqlite::{Connection, params};

use super::corrupt;
use crate::maintenance::{Source, Spec, Window};
use crate::store::StoreError;

pub(super) fn save(conn: &Connection, w: &Window) -> Result<(), StoreError> {
    let spec = serde_json::to_string(&w.spec()).map_err(|e| corrupt("maintenance window", e))?;
    let ends_at = match &w.times {
        crate::maintenance::Times::Once { start } => {
            let length = chrono::Duration::from_std(w.duration).unwrap_or_default();
            Some((*start + length).timestamp_millis())
        }
        crate::maintenance::Times::Every { .. } => None,
    };
    conn.prepare_cached(
        "INSERT INTO maintenance (id, spec_json, ends_at, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET spec_json = excluded.spec_json, ends_at = excluded.ends_at",
    )?
    .execute(params![
        w.id,
        spec,
        ends_at,
        w.created_by.as_deref().unwrap_or(""),
        w.created_at.map_or(0, |t| t.timestamp_millis())
    ])?;
    Ok(())
}

pub(super) fn delete(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM maintenance WHERE id = ?1")?
        .execute([id])?;
    Ok(n > 0)
}

pub(super) fn all(conn: &Connection) -> Result<Vec<Window>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, spec_json, created_by, created_at FROM maintenance ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json, by, at) = row?;
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
pub(super) fn delete_closed_before(conn: &Connection, cutoff_ms: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "DELETE FROM maintenance WHERE ends_at IS NOT NULL AND ends_at < ?1",
        params![cutoff_ms],
    )?)
}
