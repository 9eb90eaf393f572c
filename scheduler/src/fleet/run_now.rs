//! On-demand runs waiting for a probe (run now, confirmation runs). Each
//! stays in the probe's plan until a result answers it or it expires.
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

/// Pending requests by probe name.
#[derive(Debug, Default)]
pub(super) struct Queue(BTreeMap<String, Vec<RunRequest>>);

impl Queue {
    /// The probe's requests that have not expired, oldest first.
    pub fn pending(&mut self, probe: &str, now: DateTime<Utc>) -> Vec<RunRequest> {
        // The engine stops waiting for a confirmation after the same time.
        let ttl = chrono::Duration::from_std(RUN_REQUEST_TTL).unwrap_or(chrono::Duration::MAX);
        let Some(queue) = self.0.get_mut(probe) else {
            return Vec::new();
        };
        queue.retain(|r| now.signed_duration_since(r.requested_at) < ttl);
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
