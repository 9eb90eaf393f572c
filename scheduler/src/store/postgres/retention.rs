//! Retention on PostgreSQL: whole days of results go by dropping their
//! partition; only the day the cutoff falls in is deleted row by row.
//! Alert history is deleted as on SQLite.

use super::conn::limit;
use super::{Conn, maintenance, partitions};
use crate::store::StoreError;
use crate::store::alerts::AlertHistoryDeleted;

/// Drops the days before `cutoff_ms`, then deletes at most `n` results
/// of the boundary day and at most `n` of their ids; returns how many
/// result ids went. Every result has one, so that counts the results
/// removed, dropped with their day or deleted.
pub(super) fn delete_results_before(
    conn: &Conn,
    cutoff_ms: i64,
    n: usize,
) -> Result<usize, StoreError> {
    partitions::drop_before(conn, cutoff_ms)?;
    conn.execute(
        "DELETE FROM results WHERE (started_at, id) IN
           (SELECT started_at, id FROM results WHERE started_at < $1 LIMIT $2)",
        &[&cutoff_ms, &limit(n)],
    )?;
    conn.changed(
        "DELETE FROM result_ids WHERE id IN
           (SELECT id FROM result_ids WHERE started_at < $1 LIMIT $2)",
        &[&cutoff_ms, &limit(n)],
    )
}

pub(super) fn delete_alert_history_before(
    conn: &Conn,
    cutoff_ms: i64,
) -> Result<AlertHistoryDeleted, StoreError> {
    let alerts = conn.changed(
        "DELETE FROM alerts WHERE status = 'resolved' AND ended_at < $1",
        &[&cutoff_ms],
    )?;
    // The newest event is kept: its id is where notifiers resume.
    let events = conn.changed(
        "DELETE FROM alert_events WHERE created_at < $1
           AND id < (SELECT MAX(id) FROM alert_events)
           AND id <= COALESCE((SELECT MIN(last_event_id) FROM notify_cursors),
                              (SELECT MAX(id) FROM alert_events))",
        &[&cutoff_ms],
    )?;
    // Each notifier's worker prunes its own finished rows after a week;
    // this also clears those of notifiers no longer configured.
    let outbox = conn.changed(
        "DELETE FROM notify_outbox WHERE state <> 'pending' AND done_at < $1",
        &[&cutoff_ms],
    )?;
    let delivered = conn.changed(
        "DELETE FROM notify_delivered WHERE status = 'resolved' AND delivered_at < $1",
        &[&cutoff_ms],
    )?;
    let silences = conn.changed("DELETE FROM silences WHERE ends_at < $1", &[&cutoff_ms])?;
    let windows = maintenance::delete_closed_before(conn, cutoff_ms)?;
    Ok(AlertHistoryDeleted {
        alerts,
        events,
        deliveries: outbox + delivered,
        silences,
        windows,
    })
}
