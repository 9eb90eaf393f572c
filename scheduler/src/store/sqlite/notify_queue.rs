//! The notifiers' tables: `notify_cursors`, `notify_outbox` and
//! `notify_delivered`.

use rusqlite::{Connection, OptionalExtension, params};

use crate::alert::{Alert, AlertEvent, AlertStatus};
use crate::store::StoreError;
use crate::store::notify_queue::{NotifyQueue, Queued, Record};

/// Events moved from `alert_events` per transaction.
const ENQUEUE_BATCH: i64 = 500;

impl NotifyQueue for Connection {
    fn init_cursor(&self, notifier: &str, now_ms: i64, backfill_ms: i64) -> Result<(), StoreError> {
        self.execute(
            "INSERT OR IGNORE INTO notify_cursors (notifier, last_event_id, updated_at)
             VALUES (?1, (SELECT COALESCE(MAX(id), 0) FROM alert_events WHERE created_at < ?2), ?3)",
            params![notifier, now_ms - backfill_ms, now_ms],
        )?;
        Ok(())
    }

    fn has_new(&self, notifier: &str) -> Result<bool, StoreError> {
        Ok(self.query_row(
            "SELECT EXISTS (SELECT 1 FROM alert_events WHERE id >
               (SELECT COALESCE(MAX(last_event_id), 0) FROM notify_cursors WHERE notifier = ?1))",
            [notifier],
            |row| row.get(0),
        )?)
    }

    fn enqueue(
        &self,
        notifier: &str,
        wants: &dyn Fn(&Alert) -> bool,
        now_ms: i64,
    ) -> Result<usize, StoreError> {
        let cursor: i64 = self.query_row(
            "SELECT last_event_id FROM notify_cursors WHERE notifier = ?1",
            [notifier],
            |row| row.get(0),
        )?;
        let mut stmt = self.prepare_cached(
            "SELECT id, alert_id, status, event_json, muted FROM alert_events
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![cursor, ENQUEUE_BATCH], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<i64>>(4)?.unwrap_or(0) != 0,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let Some(last) = rows.last().map(|r| r.0) else {
            return Ok(0);
        };
        for (id, alert_id, status, json, muted) in &rows {
            let state = match serde_json::from_str::<AlertEvent>(json) {
                Ok(event) => decide(self, notifier, wants, alert_id, &event, *muted)?,
                Err(e) => {
                    tracing::error!(notifier, event = id, error = %e, "Alert event does not parse; not sent.");
                    Some("failed")
                }
            };
            if let Some(state) = state {
                self.prepare_cached(
                    "INSERT OR IGNORE INTO notify_outbox
                     (notifier, event_id, alert_id, status, event_json, state, queued_at, next_at,
                      done_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7,
                             CASE WHEN ?6 = 'pending' THEN NULL ELSE ?7 END)",
                )?
                .execute(params![notifier, id, alert_id, status, json, state, now_ms])?;
            }
        }
        self.execute(
            "UPDATE notify_cursors SET last_event_id = ?2, updated_at = ?3 WHERE notifier = ?1",
            params![notifier, last, now_ms],
        )?;
        Ok(rows.len())
    }

    fn due(&self, notifier: &str, now_ms: i64, limit: usize) -> Result<Vec<Queued>, StoreError> {
        let mut stmt = self.prepare_cached(
            "SELECT o.event_id, o.alert_id, o.event_json, o.attempts, o.queued_at
             FROM notify_outbox o
             WHERE o.notifier = ?1 AND o.state = 'pending' AND o.next_at <= ?2
               AND NOT EXISTS (SELECT 1 FROM notify_outbox p
                               WHERE p.notifier = o.notifier AND p.alert_id = o.alert_id
                                 AND p.state = 'pending' AND p.event_id < o.event_id)
             ORDER BY o.event_id LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![notifier, now_ms, limit as i64], |row| {
                let json: String = row.get(2)?;
                Ok(Queued {
                    event_id: row.get(0)?,
                    alert_id: row.get(1)?,
                    event: serde_json::from_str(&json).ok(),
                    attempts: row.get(3)?,
                    queued_at: row.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn record(
        &self,
        notifier: &str,
        event_id: i64,
        record: &Record,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        match record {
            Record::Sent => {
                self.execute(
                    "UPDATE notify_outbox SET state = 'sent', attempts = attempts + 1,
                     done_at = ?3, last_error = NULL WHERE notifier = ?1 AND event_id = ?2",
                    params![notifier, event_id, now_ms],
                )?;
                self.execute(
                    "INSERT INTO notify_delivered
                     (notifier, alert_id, event_id, status, event_json, delivered_at)
                     SELECT notifier, alert_id, event_id, status, event_json, ?3
                     FROM notify_outbox WHERE notifier = ?1 AND event_id = ?2
                     ON CONFLICT (notifier, alert_id) DO UPDATE SET event_id = excluded.event_id,
                       status = excluded.status, event_json = excluded.event_json,
                       delivered_at = excluded.delivered_at",
                    params![notifier, event_id, now_ms],
                )?;
            }
            Record::Retry { next_at, error } => {
                self.execute(
                    "UPDATE notify_outbox SET attempts = attempts + 1, next_at = ?3, last_error = ?4
                     WHERE notifier = ?1 AND event_id = ?2",
                    params![notifier, event_id, next_at, error],
                )?;
            }
            Record::Failed { error } => {
                self.execute(
                    "UPDATE notify_outbox SET state = 'failed', attempts = attempts + 1,
                     done_at = ?3, last_error = ?4 WHERE notifier = ?1 AND event_id = ?2",
                    params![notifier, event_id, now_ms, error],
                )?;
            }
        }
        Ok(())
    }

    fn next_due(&self, notifier: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.query_row(
            "SELECT MIN(next_at) FROM notify_outbox WHERE notifier = ?1 AND state = 'pending'",
            [notifier],
            |row| row.get(0),
        )?)
    }

    fn waiting(&self, notifier: &str) -> Result<u64, StoreError> {
        let n: i64 = self.query_row(
            "SELECT COUNT(*) FROM notify_outbox WHERE notifier = ?1 AND state = 'pending'",
            [notifier],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn delivered(
        &self,
        notifier: &str,
        resolved_since_ms: i64,
    ) -> Result<Vec<AlertEvent>, StoreError> {
        self.execute(
            "DELETE FROM notify_delivered
             WHERE notifier = ?1 AND status = 'resolved' AND delivered_at < ?2",
            params![notifier, resolved_since_ms],
        )?;
        let mut stmt = self.prepare_cached(
            "SELECT d.event_json FROM notify_delivered d
             WHERE d.notifier = ?1 AND NOT EXISTS (SELECT 1 FROM notify_outbox o
                 WHERE o.notifier = d.notifier AND o.alert_id = d.alert_id AND o.state = 'pending')
             ORDER BY d.alert_id",
        )?;
        let events = stmt
            .query_map([notifier], |row| row.get::<_, String>(0))?
            .filter_map(|json| json.ok().and_then(|j| serde_json::from_str(&j).ok()))
            .collect();
        Ok(events)
    }

    fn prune(&self, notifier: &str, before_ms: i64) -> Result<usize, StoreError> {
        Ok(self.execute(
            "DELETE FROM notify_outbox WHERE notifier = ?1 AND state != 'pending' AND done_at < ?2
               AND event_id NOT IN (SELECT MAX(event_id) FROM notify_outbox
                                    WHERE notifier = ?1 GROUP BY alert_id)",
            params![notifier, before_ms],
        )?)
    }
}

/// `pending`, `skipped` (muted) or nothing (not for this notifier). A
/// resolve always follows a firing this notifier was told about, even when
/// muted or no longer matching: a page must never stay open.
fn decide(
    conn: &Connection,
    notifier: &str,
    wants: &dyn Fn(&Alert) -> bool,
    alert_id: &str,
    event: &AlertEvent,
    muted: bool,
) -> Result<Option<&'static str>, StoreError> {
    if event.status == AlertStatus::Resolved && told_firing(conn, notifier, alert_id)? {
        return Ok(Some("pending"));
    }
    Ok(match (wants(&event.alert), muted || event.muted) {
        (false, _) => None,
        (true, true) => Some("skipped"),
        (true, false) => Some("pending"),
    })
}

/// Whether the latest queued event of the alert is a firing that was (or
/// will be) sent.
fn told_firing(conn: &Connection, notifier: &str, alert_id: &str) -> Result<bool, StoreError> {
    let last: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT status, state FROM notify_outbox WHERE notifier = ?1 AND alert_id = ?2
             ORDER BY event_id DESC LIMIT 1",
        )?
        .query_row(params![notifier, alert_id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    Ok(last.is_some_and(|(status, state)| status == "firing" && state != "skipped"))
}
