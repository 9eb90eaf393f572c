//! Deleting results older than the retention period, in small chunks so
//! ingest never waits long behind it, and alert history that ended before
//! it: resolved alerts with their timelines, ended silences, and the
//! notification records nothing needs any more.

use std::time::Duration;

use rusqlite::params;
use tokio_util::sync::CancellationToken;

use super::{Store, StoreError};
use crate::clock::Clock;

/// Rows deleted per transaction.
const CHUNK: i64 = 5_000;
/// How often the job runs.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Deletes every result that started before `cutoff_ms`; returns how many.
///
/// # Errors
/// Store errors.
pub async fn delete_before(store: &Store, cutoff_ms: i64) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let deleted = store
            .write(move |conn| {
                Ok(conn.execute(
                    "DELETE FROM results WHERE rowid IN
                       (SELECT rowid FROM results WHERE started_at < ?1 LIMIT ?2)",
                    params![cutoff_ms, CHUNK],
                )?)
            })
            .await?;
        total += deleted;
        if i64::try_from(deleted).unwrap_or(0) < CHUNK {
            return Ok(total);
        }
    }
}

/// What [`delete_alert_history_before`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertHistoryDeleted {
    pub alerts: usize,
    pub events: usize,
    pub deliveries: usize,
    pub silences: usize,
}

/// Deletes alert history that ended before `cutoff_ms`. Firing alerts stay
/// whatever their age, and so does what a notifier still has to send:
/// events not yet queued by every notifier, pending deliveries, and the
/// last delivered state of alerts that were not resolved.
///
/// # Errors
/// Store errors.
pub async fn delete_alert_history_before(
    store: &Store,
    cutoff_ms: i64,
) -> Result<AlertHistoryDeleted, StoreError> {
    store
        .write(move |conn| {
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
            // Each notifier's worker prunes its own finished rows after a
            // week; this also clears those of notifiers no longer configured.
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
            Ok(AlertHistoryDeleted {
                alerts,
                events,
                deliveries: outbox + delivered,
                silences,
            })
        })
        .await
}

/// Runs the deletions now and then every [`EVERY`] until cancelled.
pub async fn run(
    store: Store,
    clock: std::sync::Arc<dyn Clock>,
    retention: Duration,
    stop: CancellationToken,
) {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(30));
    loop {
        let cutoff = (clock.now() - retention).timestamp_millis();
        match delete_before(&store, cutoff).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "Old results deleted."),
            Err(e) => tracing::warn!(error = %e, "Retention job failed."),
        }
        match delete_alert_history_before(&store, cutoff).await {
            Ok(d) if d == AlertHistoryDeleted::default() => {}
            Ok(d) => tracing::info!(
                alerts = d.alerts,
                events = d.events,
                deliveries = d.deliveries,
                silences = d.silences,
                "Old alert history deleted."
            ),
            Err(e) => tracing::warn!(error = %e, "Alert history retention failed."),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}
