//! On-demand runs waiting for a probe (run now, confirmation runs). Each
//! stays in the probe's plan until a result answers it or it expires.
//! Confirmation runs are also in the store, and a restart queues them
//! again; a run-now caller does not outlive a restart, so neither does
//! its request.
//! A run-now request also has a caller waiting for its result: the
//! waiters are answered as each result is stored.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use scenarios::wire::{RunRequest, RunResult};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::Fleet;
use crate::alert::RUN_REQUEST_TTL;
use crate::store::StoreError;

/// Pending requests by probe name.
#[derive(Debug, Default)]
pub(super) struct Queue(BTreeMap<String, Vec<RunRequest>>);

/// Whether `request` is still out at `now`. The engine stops waiting for
/// a confirmation after the same time.
fn live(request: &RunRequest, now: DateTime<Utc>) -> bool {
    let ttl = chrono::Duration::from_std(RUN_REQUEST_TTL).unwrap_or(chrono::Duration::MAX);
    now.signed_duration_since(request.requested_at) < ttl
}

impl Queue {
    /// The probe's requests that have not expired, oldest first.
    pub fn pending(&mut self, probe: &str, now: DateTime<Utc>) -> Vec<RunRequest> {
        let Some(queue) = self.0.get_mut(probe) else {
            return Vec::new();
        };
        queue.retain(|r| live(r, now));
        queue.clone()
    }
}

/// Requests whose caller waits for the result, by request id.
#[derive(Debug, Default)]
pub(super) struct Waiters(Mutex<HashMap<Uuid, oneshot::Sender<RunResult>>>);

impl Waiters {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, oneshot::Sender<RunResult>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Fleet {
    /// Queues again the confirmation runs the store says are still out:
    /// the queue is in memory, and a probe answering one of them after a
    /// restart must still be heard. Returns how many.
    ///
    /// # Errors
    /// Store errors.
    pub(super) async fn restore_runs(&self) -> Result<usize, StoreError> {
        let rows = self.store.read(|tx| tx.confirm_requests()).await?;
        let now = self.clock.now();
        let mut restored = 0;
        for row in rows.into_iter().filter(|row| live(&row.request, now)) {
            self.enqueue_run(&row.probe, row.request);
            restored += 1;
        }
        Ok(restored)
    }

    /// Asks `probe` to run a scenario at once; its next plan carries it.
    pub fn enqueue_run(&self, probe: &str, request: RunRequest) {
        self.lock()
            .run_now
            .0
            .entry(probe.to_owned())
            .or_default()
            .push(request);
        self.bump();
    }

    /// A result answered request `id` of `probe`: drop it from the plan.
    fn complete_run(&self, probe: &str, id: Uuid) {
        let removed = {
            let mut state = self.lock();
            let Some(queue) = state.run_now.0.get_mut(probe) else {
                return;
            };
            let before = queue.len();
            queue.retain(|r| r.id != id);
            before != queue.len()
        };
        if removed {
            self.bump();
        }
    }
}

impl Fleet {
    /// The result of request `id`, once it is stored; forget it with
    /// [`Fleet::stop_waiting`] when the caller gives up.
    pub fn wait_for_result(&self, id: Uuid) -> oneshot::Receiver<RunResult> {
        let (tx, rx) = oneshot::channel();
        self.waiters.map().insert(id, tx);
        rx
    }

    /// Nobody waits for request `id` any more.
    pub fn stop_waiting(&self, id: Uuid) {
        self.waiters.map().remove(&id);
    }

    /// A stored result of an on-demand run (`new` the first time it was
    /// stored): its request leaves the probe's plan, and whoever waits for
    /// it gets the result. The one place on-demand runs are answered.
    pub fn run_answered(&self, result: &RunResult, new: bool) {
        let Some(id) = result.run_request else {
            return;
        };
        self.complete_run(&result.probe, id);
        if !new {
            return;
        }
        let waiter = self.waiters.map().remove(&id);
        if let Some(tx) = waiter {
            // The caller may have given up just now; nothing to answer then.
            let _ = tx.send(result.clone());
        }
    }
}
