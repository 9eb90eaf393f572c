//! Deleting alert history that ended before the retention period.

use rusqlite::{Connection, params};

use crate::store::StoreError;
use crate::store::alerts::AlertHistoryDeleted;

pub(super) fn delete_alert_history_before(
    conn: &Connection,
    cutoff_ms: i64,
) -> Result<AlertHistoryDeleted, StoreError> {
    let alerts = conn.execute(
        "DELETE FROM alerts WHERE status = 'resolved' AND ended_at < ?1",
        params![cutoff_ms],
    )?;
    // The newest event is kept: its id is where notifiers resume.
    let events = conn.execute(
        "DELETE FROM alert_events WHERE created_at < ?1
           AND id < (SELECT MAX(id) FROM alert_events)
           AND id <= COALESCE((SELECT MIN(last_event_id) FROM notify_cursors),
                              (SELECT MAX(id) FROM alert_events))",
        params![cutoff_ms],
    )?;
    // Each notifier's worker prunes its own finished rows after a week;
    // this also clears those of notifiers no longer configured.
    let outbox = conn.execute(
        "DELETE FROM notify_outbox WHERE state <> 'pending' AND done_at < ?1",
        params![cutoff_ms],
    )?;
    let delivered = conn.execute(
        "DELETE FROM notify_delivered WHERE status = 'resolved' AND delivered_at < ?1",
        params![cutoff_ms],
    )?;
    let silences = conn.execute(
        "DELETE FROM silences WHERE ends_at < ?1",
        params![cutoff_ms],
    )?;
    let windows = super::maintenance::delete_closed_before(conn, cutoff_ms)?;
    Ok(AlertHistoryDeleted {
        alerts,
        events,
        deliveries: outbox + delivered,
        silences,
        windows,
    })
}
