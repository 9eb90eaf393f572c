//! Hearing other replicas at once: one dedicated connection LISTENs on the
//! on-demand runs' channel and counts what it hears into a watch channel,
//! which the fleet waits on beside its once-a-second look at the store.
//! A lost connection is made again; after each (re)connect the count goes
//! up once, since anything could have happened while nobody listened.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::{connect, run_requests};
use crate::config::DatabaseUrl;

/// How long one wait lasts before the thread looks whether it should stop.
const WAIT: Duration = Duration::from_secs(1);
/// The pause before connecting again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Starts the listening thread; it ends when `stop` is set or nobody
/// holds a receiver any more.
pub(super) fn start(url: Arc<DatabaseUrl>, stop: Arc<AtomicBool>) -> watch::Receiver<u64> {
    let (tx, rx) = watch::channel(0);
    let spawned = std::thread::Builder::new()
        .name("store-listen".into())
        .spawn(move || listen(&url, &stop, &tx));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "Cannot start listening for other replicas; they are heard once a second.");
    }
    rx
}

fn listen(url: &DatabaseUrl, stop: &AtomicBool, tx: &watch::Sender<u64>) {
    let channel = run_requests::CHANNEL;
    while !stop.load(Ordering::Relaxed) && !tx.is_closed() {
        let conn = match connect::connect(url) {
            Ok(conn) => conn,
            Err(e) => {
                tracing::debug!(error = %e, "Cannot connect to listen for other replicas.");
                std::thread::sleep(RECONNECT_AFTER);
                continue;
            }
        };
        if let Err(e) = conn.batch(&format!("LISTEN {channel}")) {
            tracing::debug!(error = %e, "Cannot listen for other replicas.");
            std::thread::sleep(RECONNECT_AFTER);
            continue;
        }
        tx.send_modify(|n| *n += 1);
        while !stop.load(Ordering::Relaxed) && !tx.is_closed() {
            match conn.notified_within(WAIT) {
                Ok(true) => tx.send_modify(|n| *n += 1),
                Ok(false) if conn.is_closed() => break,
                Ok(false) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "Lost the connection listening for other replicas.");
                    break;
                }
            }
        }
    }
}
