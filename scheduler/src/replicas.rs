//! Replicas sharing one store keep in step: every second each one takes in
//! what the others recorded (probes' calls, on-demand runs), at once when
//! the database tells it an on-demand run changed, and reports the catalog
//! it loaded so any replica can say whether it serves the same scenario
//! directory as the leader.
//!
//! A replica alone on its SQLite file has nobody to follow: [`follow`]
//! returns at once.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::store::StoreError;
use crate::store::replicas::ReplicaRow;

/// How often a replica looks at what the others recorded.
const EVERY: Duration = Duration::from_secs(1);

/// What the replicas last reported, as this replica read it.
#[derive(Debug, Default)]
pub struct Peers(Mutex<Known>);

#[derive(Debug, Default, Clone)]
struct Known {
    rows: Vec<ReplicaRow>,
    /// The replica named by the leader lease.
    leader: Option<String>,
}

/// One replica as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub row: ReplicaRow,
    pub leader: bool,
}

impl Peers {
    fn set(&self, known: Known) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = known;
    }

    fn known(&self) -> Known {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every replica's latest report, with which one leads.
    pub fn all(&self) -> Vec<Peer> {
        let known = self.known();
        known
            .rows
            .into_iter()
            .map(|row| Peer {
                leader: known.leader.as_deref() == Some(row.name.as_str()),
                row,
            })
            .collect()
    }

    /// The leader's catalog version, once the leader reported one.
    pub fn leader_catalog(&self) -> Option<String> {
        let known = self.known();
        let leader = known.leader?;
        known
            .rows
            .into_iter()
            .find(|r| r.name == leader)
            .map(|r| r.catalog_version)
    }
}

/// Keeps this replica in step with the others until `stop`.
pub async fn follow(app: Arc<App>, stop: CancellationToken) {
    if !app.leadership.is_leased() {
        return;
    }
    let mut changes = app.store.run_request_changes();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut differed = false;
    loop {
        let ticked = tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => true,
            heard = changed(&mut changes) => {
                if heard.is_err() {
                    changes = None;
                }
                false
            }
        };
        if let Err(e) = app.fleet.absorb_runs().await {
            tracing::warn!(error = %e, "Cannot read the on-demand runs other replicas stored.");
        }
        if !ticked {
            continue;
        }
        if let Err(e) = app.fleet.absorb_stored().await {
            tracing::warn!(error = %e, "Cannot read the probes other replicas recorded.");
        }
        match report(&app).await {
            Ok(()) => differed = warn_on_difference(&app, differed),
            Err(e) => tracing::warn!(error = %e, "Cannot report this replica's catalog."),
        }
    }
}

async fn changed(rx: &mut Option<watch::Receiver<u64>>) -> Result<(), watch::error::RecvError> {
    match rx {
        Some(rx) => rx.changed().await,
        None => std::future::pending().await,
    }
}

/// Stores this replica's catalog report and reads everyone's.
async fn report(app: &App) -> Result<(), StoreError> {
    let catalog = app.catalog.current();
    let row = ReplicaRow {
        name: app.leadership.replica().to_owned(),
        catalog_version: catalog.version(),
        catalog_errors: i64::try_from(catalog.invalid_files()).unwrap_or(i64::MAX),
        seen_at: app.clock.now_ms(),
    };
    let (rows, lease) = app
        .store
        .write(move |tx| {
            tx.report_replica(&row)?;
            Ok((tx.replicas()?, tx.current_lease()?))
        })
        .await?;
    // The lease names `replica@mark`; the report names the replica.
    let leader = lease.and_then(|l| l.holder.split('@').next().map(str::to_owned));
    app.peers.set(Known { rows, leader });
    Ok(())
}

/// Says once, when it starts, that this replica's catalog is not the
/// leader's; returns whether it differs now.
fn warn_on_difference(app: &App, differed: bool) -> bool {
    let Some(leader) = app.peers.leader_catalog() else {
        return differed;
    };
    let own = app.catalog.current().version();
    let differs = own != leader;
    if differs && !differed {
        tracing::warn!(own = %own, leader = %leader,
            "This replica's scenario directory differs from the leader's: plans and pages may disagree.");
    } else if !differs && differed {
        tracing::info!("This replica's scenario directory matches the leader's again.");
    }
    differs
}

/// Whether this replica's catalog is the leader's: `None` until known, or
/// when the store is not shared.
pub fn matches_leader(app: &App) -> Option<bool> {
    if !app.leadership.is_leased() {
        return None;
    }
    let leader = app.peers.leader_catalog()?;
    Some(app.catalog.current().version() == leader)
}
