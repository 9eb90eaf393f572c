//! On-demand runs waiting for a probe (run now, confirmation runs). Each
//! stays in the probe's plan until a result answers it or it expires.
//!
//! Every request is in the store (`run_requests`) before a probe hears of
//! it, with the result that answered it beside it once one did. So a
//! restart queues again what is still out, and replicas sharing the store
//! take each other's requests and answers in ([`Fleet::absorb_runs`]):
//! the replica a probe polls puts a request made through another in its
//! plan, and a caller waiting on one replica hears a result another took.
//! A request only ever joins a plan once: it leaves when answered, never
//! comes back, and otherwise stays until it expires, so no probe runs it
//! twice.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use scenarios::wire::{RunRequest, RunResult};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::Fleet;
use crate::alert::RUN_REQUEST_TTL;
use crate::store::StoreError;

/// Pending requests by probe name, and the ids answered lately.
#[derive(Debug, Default)]
pub(super) struct Queue {
    pending: BTreeMap<String, Vec<RunRequest>>,
    /// Answered ids with when they were asked for, kept while they could
    /// still be read back as pending.
    answered: HashMap<Uuid, DateTime<Utc>>,
}

/// Whether `requested_at` is still out at `now`. The engine stops waiting
/// for a confirmation after the same time.
fn live(requested_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now.signed_duration_since(requested_at) < ttl()
}

fn ttl() -> chrono::Duration {
    chrono::Duration::from_std(RUN_REQUEST_TTL).unwrap_or(chrono::Duration::MAX)
}

impl Queue {
    /// The probe's requests that have not expired, oldest first.
    pub fn pending(&mut self, probe: &str, now: DateTime<Utc>) -> Vec<RunRequest> {
        let Some(queue) = self.pending.get_mut(probe) else {
            return Vec::new();
        };
        queue.retain(|r| live(r.requested_at, now));
        queue.clone()
    }

    /// Adds a request unless it is queued or answered; says whether it did.
    fn add(&mut self, probe: &str, request: RunRequest) -> bool {
        if self.answered.contains_key(&request.id) {
            return false;
        }
        let queue = self.pending.entry(probe.to_owned()).or_default();
        if queue.iter().any(|r| r.id == request.id) {
            return false;
        }
        queue.push(request);
        true
    }

    /// Takes an answered request out of every plan; says whether it was in one.
    fn answer(&mut self, id: Uuid, requested_at: DateTime<Utc>) -> bool {
        self.answered.insert(id, requested_at);
        let mut removed = false;
        for queue in self.pending.values_mut() {
            let before = queue.len();
            queue.retain(|r| r.id != id);
            removed |= before != queue.len();
        }
        removed
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

    /// Hands `result` to whoever waits for request `id`, once.
    fn answer(&self, id: Uuid, result: &RunResult) {
        let waiter = self.map().remove(&id);
        if let Some(tx) = waiter {
            // The caller may have given up just now; nothing to answer then.
            let _ = tx.send(result.clone());
        }
    }
}

impl Fleet {
    /// Queues again the on-demand runs the store says are still out: a
    /// probe answering one after a restart must still be heard. Returns
    /// how many.
    ///
    /// # Errors
    /// Store errors.
    pub(super) async fn restore_runs(&self) -> Result<usize, StoreError> {
        let since = (self.clock.now() - ttl()).timestamp_millis();
        let rows = self
            .store
            .read(move |tx| tx.run_requests_since(since))
            .await?;
        let mut restored = 0;
        for row in rows.into_iter().filter(|row| row.answer.is_none()) {
            if self.lock().run_now.add(&row.probe, row.request) {
                restored += 1;
            }
        }
        if restored > 0 {
            self.bump();
        }
        Ok(restored)
    }

    /// Asks `probe` to run a scenario at once: stored first, so every
    /// replica knows of it; the probe's next plan carries it.
    ///
    /// # Errors
    /// Store errors (the probe has not been asked then).
    pub async fn request_run(&self, probe: &str, request: RunRequest) -> Result<(), StoreError> {
        let (owned, saved) = (probe.to_owned(), request.clone());
        self.store
            .write(move |tx| tx.save_run_request(&owned, &saved))
            .await?;
        self.queue_run(probe, request);
        Ok(())
    }

    /// Puts a request the store already holds (a confirmation run, saved
    /// with the alert that waits for it) in `probe`'s plan.
    pub fn queue_run(&self, probe: &str, request: RunRequest) {
        if self.lock().run_now.add(probe, request) {
            self.bump();
        }
    }

    /// Takes in the on-demand runs other replicas stored: requests made
    /// through them join this replica's plans, and answers they stored
    /// leave the plans and reach this replica's waiting callers.
    ///
    /// # Errors
    /// Store errors.
    pub async fn absorb_runs(&self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let since = (now - ttl()).timestamp_millis();
        let rows = self
            .store
            .read(move |tx| tx.run_requests_since(since))
            .await?;
        let mut changed = false;
        let mut answers = Vec::new();
        {
            let mut state = self.lock();
            let queue = &mut state.run_now;
            queue.answered.retain(|_, at| live(*at, now));
            for row in rows {
                match row.answer {
                    Some(answer) => {
                        changed |= queue.answer(row.request.id, row.request.requested_at);
                        answers.push((row.request.id, answer));
                    }
                    None if live(row.request.requested_at, now) => {
                        changed |= queue.add(&row.probe, row.request);
                    }
                    None => {}
                }
            }
        }
        for (id, answer) in &answers {
            self.waiters.answer(*id, answer);
        }
        if changed {
            self.bump();
        }
        Ok(())
    }

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

    /// A result of an on-demand run this replica stored (`new` the first
    /// time it was stored): its request leaves the plans, and whoever waits
    /// for it here gets the result. The store recorded it as the answer in
    /// the same transaction, for the other replicas.
    pub fn run_answered(&self, result: &RunResult, new: bool) {
        let Some(id) = result.run_request else {
            return;
        };
        if self.lock().run_now.answer(id, result.started_at) {
            self.bump();
        }
        if new {
            self.waiters.answer(id, result);
        }
    }
}
