//! The notifiers' tables: `notify_cursors`, `notify_outbox` and
//! `notify_delivered`.

use super::Conn;
use super::conn::limit;
use crate::alert::{Alert, AlertEvent, AlertStatus};
use crate::store::StoreError;
use crate::store::notify_queue::{NotifyQueue, Queued, Record};

/// Events moved from `alert_events` per transaction.
const ENQUEUE_BATCH: i64 = 500;

impl NotifyQueue for Conn {
    fn init_cursor(&self, notifier: &str, now_ms: i64, backfill_ms: i64) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO notify_cursors (notifier, last_event_id, updated_at)
             VALUES ($1, (SELECT COALESCE(MAX(id), 0) FROM alert_events WHERE created_at < $2), $3)
             ON CONFLICT (notifier) DO NOTHING",
            &[&notifier, &(now_ms - backfill_ms), &now_ms],
        )?;
        Ok(())
    }

    fn has_new(&self, notifier: &str) -> Result<bool, StoreError> {
        Ok(self
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM alert_events WHERE id >
                   (SELECT COALESCE(MAX(last_event_id), 0) FROM notify_cursors
                    WHERE notifier = $1))",
                &[&notifier],
            )?
            .try_get(0)?)
    }

    fn enqueue(
        &self,
        notifier: &str,
        wants: &dyn Fn(&Alert) -> bool,
        now_ms: i64,
    ) -> Result<usize, StoreError> {
        let cursor: i64 = self
            .query_one(
                "SELECT last_event_id FROM notify_cursors WHERE notifier = $1",
                &[&notifier],
            )?
            .try_get(0)?;
        let rows = self.query(
            "SELECT id, alert_id, status, event_json, muted FROM alert_events
             WHERE id > $1 ORDER BY id LIMIT $2",
            &[&cursor, &ENQUEUE_BATCH],
        )?;
        let Some(last) = rows.last().map(|r| r.try_get::<_, i64>(0)).transpose()? else {
            return Ok(0);
        };
        for row in &rows {
            let (id, alert_id): (i64, &str) = (row.try_get(0)?, row.try_get(1)?);
            let (status, json): (&str, &str) = (row.try_get(2)?, row.try_get(3)?);
            let muted: bool = row.try_get(4)?;
            let state = match serde_json::from_str::<AlertEvent>(json) {
                Ok(event) => decide(self, notifier, wants, alert_id, &event, muted)?,
                Err(e) => {
                    tracing::error!(notifier, event = id, error = %e, "Alert event does not parse; not sent.");
                    Some("failed")
                }
            };
            if let Some(state) = state {
                self.execute(
                    "INSERT INTO notify_outbox
                     (notifier, event_id, alert_id, status, event_json, state, queued_at, next_at,
                      done_at)
                     VALUES ($1, $2, $3, $4, $5, $6::TEXT, $7::BIGINT, $7::BIGINT,
                             CASE WHEN $6::TEXT = 'pending' THEN NULL ELSE $7::BIGINT END)
                     ON CONFLICT (notifier, event_id) DO NOTHING",
                    &[&notifier, &id, &alert_id, &status, &json, &state, &now_ms],
                )?;
            }
        }
        self.execute(
            "UPDATE notify_cursors SET last_event_id = $2, updated_at = $3 WHERE notifier = $1",
            &[&notifier, &last, &now_ms],
        )?;
        Ok(rows.len())
    }

    fn due(&self, notifier: &str, now_ms: i64, n: usize) -> Result<Vec<Queued>, StoreError> {
        let rows = self.query(
            "SELECT o.event_id, o.alert_id, o.event_json, o.attempts, o.queued_at
             FROM notify_outbox o
             WHERE o.notifier = $1 AND o.state = 'pending' AND o.next_at <= $2
               AND NOT EXISTS (SELECT 1 FROM notify_outbox p
                               WHERE p.notifier = o.notifier AND p.alert_id = o.alert_id
                                 AND p.state = 'pending' AND p.event_id < o.event_id)
             ORDER BY o.event_id LIMIT $3",
            &[&notifier, &now_ms, &limit(n)],
        )?;
        rows.iter()
            .map(|row| {
                let json: &str = row.try_get(2)?;
                Ok(Queued {
                    event_id: row.try_get(0)?,
                    alert_id: row.try_get(1)?,
                    event: serde_json::from_str(json).ok(),
                    attempts: u32::try_from(row.try_get::<_, i64>(3)?).unwrap_or(u32::MAX),
                    queued_at: row.try_get(4)?,
                })
            })
            .collect()
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
                     done_at = $3, last_error = NULL WHERE notifier = $1 AND event_id = $2",
                    &[&notifier, &event_id, &now_ms],
                )?;
                self.execute(
                    "INSERT INTO notify_delivered
                     (notifier, alert_id, event_id, status, event_json, delivered_at)
                     SELECT notifier, alert_id, event_id, status, event_json, $3
                     FROM notify_outbox WHERE notifier = $1 AND event_id = $2
                     ON CONFLICT (notifier, alert_id) DO UPDATE SET event_id = excluded.event_id,
                       status = excluded.status, event_json = excluded.event_json,
                       delivered_at = excluded.delivered_at",
                    &[&notifier, &event_id, &now_ms],
                )?;
            }
            Record::Retry { next_at, error } => {
                self.execute(
                    "UPDATE notify_outbox SET attempts = attempts + 1, next_at = $3, last_error = $4
                     WHERE notifier = $1 AND event_id = $2",
                    &[&notifier, &event_id, next_at, error],
                )?;
            }
            Record::Failed { error } => {
                self.execute(
                    "UPDATE notify_outbox SET state = 'failed', attempts = attempts + 1,
                     done_at = $3, last_error = $4 WHERE notifier = $1 AND event_id = $2",
                    &[&notifier, &event_id, &now_ms, error],
                )?;
            }
        }
        Ok(())
    }

    fn next_due(&self, notifier: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .query_one(
                "SELECT MIN(next_at) FROM notify_outbox WHERE notifier = $1 AND state = 'pending'",
                &[&notifier],
            )?
            .try_get(0)?)
    }

    fn waiting(&self, notifier: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .query_one(
                "SELECT COUNT(*) FROM notify_outbox WHERE notifier = $1 AND state = 'pending'",
                &[&notifier],
            )?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn delivered(
        &self,
        notifier: &str,
        resolved_since_ms: i64,
    ) -> Result<Vec<AlertEvent>, StoreError> {
        self.execute(
            "DELETE FROM notify_delivered
             WHERE notifier = $1 AND status = 'resolved' AND delivered_at < $2",
            &[&notifier, &resolved_since_ms],
        )?;
        let rows = self.query(
            "SELECT d.event_json FROM notify_delivered d
             WHERE d.notifier = $1 AND NOT EXISTS (SELECT 1 FROM notify_outbox o
                 WHERE o.notifier = d.notifier AND o.alert_id = d.alert_id AND o.state = 'pending')
             ORDER BY d.alert_id",
            &[&notifier],
        )?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                row.try_get::<_, &str>(0)
                    .ok()
                    .and_then(|j| serde_json::from_str(j).ok())
            })
            .collect())
    }

    fn prune(&self, notifier: &str, before_ms: i64) -> Result<usize, StoreError> {
        self.changed(
            "DELETE FROM notify_outbox WHERE notifier = $1 AND state <> 'pending' AND done_at < $2
               AND event_id NOT IN (SELECT MAX(event_id) FROM notify_outbox
                                    WHERE notifier = $1 GROUP BY alert_id)",
            &[&notifier, &before_ms],
        )
    }
}

/// `pending`, `skipped` (muted) or nothing (not for this notifier). A
/// resolve always follows a firing this notifier was told about, even when
/// muted or no longer matching: a page must never stay open.
fn decide(
    conn: &Conn,
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
fn told_firing(conn: &Conn, notifier: &str, alert_id: &str) -> Result<bool, StoreError> {
    let last = conn.query_opt(
        "SELECT status, state FROM notify_outbox WHERE notifier = $1 AND alert_id = $2
         ORDER BY event_id DESC LIMIT 1",
        &[&notifier, &alert_id],
    )?;
    match last {
        Some(row) => {
            let (status, state): (&str, &str) = (row.try_get(0)?, row.try_get(1)?);
            Ok(status == "firing" && state != "skipped")
        }
        None => Ok(false),
    }
}
