//! The `alert_events` table.

use chrono::DateTime;
use rusqlite::{Connection, params};

use crate::alert::{Alert, AlertEvent, AlertStatus};
use crate::store::StoreError;
use crate::store::outbox::{EventRow, Outbox};

impl Outbox for Connection {
    fn insert_event(&self, event: &AlertEvent, now_ms: i64) -> Result<i64, StoreError> {
        let json = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.prepare_cached(
            "INSERT INTO alert_events (alert_id, status, event_json, muted, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            event.alert.id,
            status_str(event.status),
            json,
            event.muted,
            now_ms
        ])?;
        Ok(self.last_insert_rowid())
    }

    fn events_after(&self, cursor: i64, limit: usize) -> Result<Vec<EventRow>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.prepare_cached(
            "SELECT id, alert_id, status, event_json, muted, created_at FROM alert_events
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![cursor, limit], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(3)?,
                row.get::<_, bool>(4)?,
                row.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, alert_id, json, muted, created_at) = row?;
            let event: AlertEvent = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("alert event {id}: {e}")))?;
            out.push(EventRow {
                id,
                alert_id,
                status: event.status,
                muted,
                created_at: DateTime::from_timestamp_millis(created_at).unwrap_or_default(),
                event,
            });
        }
        Ok(out)
    }

    fn last_event_id(&self) -> Result<i64, StoreError> {
        Ok(
            self.query_row("SELECT COALESCE(MAX(id), 0) FROM alert_events", [], |r| {
                r.get(0)
            })?,
        )
    }

    fn firing_alerts(&self) -> Result<Vec<(Alert, bool)>, StoreError> {
        let mut stmt = self.prepare_cached(
            "SELECT alert_json, (muted OR NOT paged) FROM alerts
             WHERE status = 'firing' AND notified = 1 ORDER BY row_id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, bool>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (json, muted) = row?;
            let alert: Alert = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("stored alert: {e}")))?;
            out.push((alert, muted));
        }
        Ok(out)
    }
}

pub(super) fn status_str(s: AlertStatus) -> &'static str {
    match s {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    }
}
