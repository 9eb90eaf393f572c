//! The spool's single writer: takes finished results from the bounded
//! channel, writes each durably, and wakes delivery.

use std::sync::Arc;
use std::time::Duration;

use scenarios::wire::RunResult;
use tokio::sync::{Notify, mpsc};

use super::metrics::{DropReason, Metrics};
use super::spool::{Spool, is_disk_full};

/// Attempts at writing one result before it is given up on.
const WRITE_ATTEMPTS: u32 = 3;

/// Writes every result received until all senders are gone.
pub async fn write_results(
    mut rx: mpsc::Receiver<RunResult>,
    spool: Arc<Spool>,
    wake: Arc<Notify>,
    metrics: Metrics,
) {
    while let Some(result) = rx.recv().await {
        let spool = spool.clone();
        let written = tokio::task::spawn_blocking(move || put_with_retries(&spool, &result)).await;
        match written {
            Ok(Ok(())) => wake.notify_one(),
            Ok(Err((scenario, id, e))) if is_disk_full(&e) => {
                tracing::error!(scenario = %scenario, id = %id, error = %e,
                    "Cannot spool a result even with the spool emptied: the disk is full; it is lost.");
                metrics.dropped(DropReason::disk_full, 1);
            }
            Ok(Err((scenario, id, e))) => {
                // A disk that refuses writes is a spool that is full.
                tracing::error!(scenario = %scenario, id = %id, error = %e, "Cannot spool a result; it is lost.");
                metrics.dropped(DropReason::spool_full, 1);
            }
            Err(e) => tracing::error!(error = %e, "Spool writer task failed; a result is lost."),
        }
    }
}

type PutError = (String, uuid::Uuid, std::io::Error);

fn put_with_retries(spool: &Spool, result: &RunResult) -> Result<(), PutError> {
    let mut pause = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match spool.put(result) {
            Ok(()) => return Ok(()),
            // The spool already dropped all it had to make room: retrying
            // cannot find any more.
            Err(e) if attempt >= WRITE_ATTEMPTS || is_disk_full(&e) => {
                return Err((result.scenario.clone(), result.id, e));
            }
            Err(e) => {
                tracing::warn!(id = %result.id, error = %e, attempt, "Spool write failed; retrying.");
                std::thread::sleep(pause);
                pause *= 4;
                attempt += 1;
            }
        }
    }
}
