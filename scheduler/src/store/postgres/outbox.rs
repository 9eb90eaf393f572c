//! The `alert_events` table. Writers take [`OUTBOX_LOCK`] before they
//! number an event and hold it to COMMIT, so ids are given in commit
//! order even with concurrent transactions (or processes): a notifier
//! that read up to id N never sees an id below N appear later.

use chrono::DateTime;

use super::Conn;
use super::conn::limit;
use crate::alert::{Alert, AlertEvent, AlertStatus};
use crate::store::StoreError;
use crate::store::outbox::{EventRow, Outbox};

/// Any fixed number ("sondo" in ASCII).
const OUTBOX_LOCK: i64 = 0x0073_6f6e_646f;

impl Outbox for Conn {
    fn insert_event(&self, event: &AlertEvent, now_ms: i64) -> Result<i64, StoreError> {
        let json = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&OUTBOX_LOCK])?;
        Ok(self
            .query_one(
                "INSERT INTO alert_events (alert_id, status, event_json, muted, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    &event.alert.id,
                    &status_str(event.status),
                    &json,
                    &event.muted,
                    &now_ms,
                ],
            )?
            .try_get(0)?)
    }

    fn events_after(&self, cursor: i64, n: usize) -> Result<Vec<EventRow>, StoreError> {
        let rows = self.query(
            "SELECT id, alert_id, event_json, muted, created_at FROM alert_events
             WHERE id > $1 ORDER BY id LIMIT $2",
            &[&cursor, &limit(n)],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get(0)?;
            let json: String = row.try_get(2)?;
            let event: AlertEvent = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("alert event {id}: {e}")))?;
            out.push(EventRow {
                id,
                alert_id: row.try_get(1)?,
                status: event.status,
                muted: row.try_get(3)?,
                created_at: DateTime::from_timestamp_millis(row.try_get(4)?).unwrap_or_default(),
                event,
            });
        }
        Ok(out)
    }

    fn last_event_id(&self) -> Result<i64, StoreError> {
        Ok(self
            .query_one("SELECT COALESCE(MAX(id), 0) FROM alert_events", &[])?
            .try_get(0)?)
    }

    fn firing_alerts(&self) -> Result<Vec<(Alert, bool)>, StoreError> {
        let rows = self.query(
            "SELECT alert_json, (muted OR NOT paged) FROM alerts
             WHERE status = 'firing' AND notified ORDER BY row_id",
            &[],
        )?;
        rows.iter()
            .map(|row| {
                let json: String = row.try_get(0)?;
                let alert: Alert = serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("stored alert: {e}")))?;
                Ok((alert, row.try_get(1)?))
            })
            .collect()
    }
}

pub(super) fn status_str(s: AlertStatus) -> &'static str {
    match s {
        AlertStatus::Firing => "firing",
        AlertStatus::Resolved => "resolved",
    }
}
