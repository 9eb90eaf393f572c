//! Deleting results older than the retention period, in small chunks so
//! ingest never waits long behind it, and alert history that ended before
//! it: resolved alerts with their timelines, ended silences, and the
//! notification records nothing needs any more.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use super::alerts::AlertHistoryDeleted;
use super::{Store, StoreError};
use crate::clock::Clock;
use crate::leadership::Leadership;

/// Rows deleted per transaction.
const CHUNK: usize = 5_000;
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
            .write(move |tx| tx.delete_results_before(cutoff_ms, CHUNK))
            .await?;
        total += deleted;
        if deleted < CHUNK {
            return Ok(total);
        }
    }
}

/// Deletes alert history that ended before `cutoff_ms` (see
/// [`Alerts::delete_alert_history_before`](super::Alerts::delete_alert_history_before)).
///
/// # Errors
/// Store errors.
pub async fn delete_alert_history_before(
    store: &Store,
    cutoff_ms: i64,
) -> Result<AlertHistoryDeleted, StoreError> {
    store
        .write(move |tx| tx.delete_alert_history_before(cutoff_ms))
        .await
}

/// Runs the deletions now and then every [`EVERY`] until cancelled, while
/// this replica leads.
pub async fn run(
    store: Store,
    clock: std::sync::Arc<dyn Clock>,
    retention: Duration,
    leadership: Leadership,
    stop: CancellationToken,
) {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(30));
    loop {
        // Among replicas the leader alone deletes; the others look again
        // at the next round, in case they lead by then.
        if !leadership.is_leader() {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(EVERY) => continue,
            }
        }
        let cutoff = (clock.now() - retention).timestamp_millis();
        match delete_before(&store, cutoff).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "Old results deleted."),
            Err(e) => tracing::warn!(error = %e, "Retention job failed."),
        }
        match store.write(move |tx| tx.delete_audit_before(cutoff)).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "Old audit entries deleted."),
            Err(e) => tracing::warn!(error = %e, "Audit retention failed."),
        }
        // An on-demand run nobody waits for any more, answered or not.
        let expired = (clock.now() - run_request_ttl()).timestamp_millis();
        match store
            .write(move |tx| tx.delete_run_requests_before(expired))
            .await
        {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "Expired on-demand runs deleted."),
            Err(e) => tracing::warn!(error = %e, "On-demand run retention failed."),
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

/// How long an on-demand run is kept: twice the time anyone waits for it.
fn run_request_ttl() -> chrono::Duration {
    chrono::Duration::from_std(crate::alert::RUN_REQUEST_TTL * 2).unwrap_or(chrono::Duration::MAX)
}
