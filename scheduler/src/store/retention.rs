//! Deleting results older than the retention period, in small chunks so
//! ingest never waits long behind it.

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

/// Runs [`delete_before`] now and then every [`EVERY`] until cancelled.
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
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}
