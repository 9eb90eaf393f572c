//! Holding the leader lease among replicas that share a database: claim
//! it every `RENEW_EVERY`, and on each change of hands reload the alert
//! engine from the store before acting as leader, since another replica
//! wrote alert state meanwhile.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::leadership::{Instant, LEASE_TTL, RENEW_EVERY};
use crate::store::StoreError;

/// One claim: renews or takes the lease if it can, and records the
/// outcome in `app.leadership`.
///
/// # Errors
/// Store errors; the current term, if any, then runs out on its own.
pub async fn claim(app: &App) -> Result<(), StoreError> {
    let replica = app.leadership.holder().to_owned();
    let ttl_ms = i64::try_from(LEASE_TTL.as_millis()).unwrap_or(i64::MAX);
    let now_ms = app.clock.now_ms();
    let sent_at = Instant::now();
    let lease = app
        .store
        .write(move |tx| tx.claim_lease(&replica, ttl_ms, now_ms))
        .await?;
    if lease.holder != app.leadership.holder() {
        if app.leadership.is_leader() {
            tracing::warn!(leader = %lease.holder, epoch = lease.epoch, "Leader lease lost to another replica; this replica stops evaluating and sending.");
        }
        app.leadership.lost();
        return Ok(());
    }
    if app.leadership.epoch() != Some(lease.epoch) {
        // A new term: what the previous leader wrote is in the store only.
        app.alerts.reload(&app.store, app.clock.now()).await?;
        app.leadership.won(lease.epoch, sent_at);
        tracing::info!(epoch = lease.epoch, "This replica holds the leader lease.");
        // The notifiers deliver what waits now, not at their next poll.
        app.notifications.wake();
        return Ok(());
    }
    app.leadership.won(lease.epoch, sent_at);
    Ok(())
}

/// Claims the lease until `stop`, then gives it up so another replica
/// takes over at its next claim instead of after the lease runs out.
pub async fn hold(app: Arc<App>, stop: CancellationToken) {
    let mut every = tokio::time::interval(RENEW_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = every.tick() => {}
        }
        if let Err(e) = claim(&app).await {
            tracing::warn!(error = %e, "Cannot renew the leader lease.");
        }
    }
    if let Some(epoch) = app.leadership.epoch() {
        let replica = app.leadership.holder().to_owned();
        let now_ms = app.clock.now_ms();
        app.leadership.lost();
        let released = app
            .store
            .write(move |tx| tx.release_lease(&replica, epoch, now_ms))
            .await;
        match released {
            Ok(()) => tracing::info!(epoch, "Leader lease released."),
            Err(e) => {
                tracing::warn!(error = %e, "Cannot release the leader lease; it runs out on its own.")
            }
        }
    }
}
