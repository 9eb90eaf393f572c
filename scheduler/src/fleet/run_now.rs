//! On-demand runs waiting for a probe (run now, confirmation runs). Each
//! stays in the probe's plan until a result answers it or it expires.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use scenarios::wire::RunRequest;
use uuid::Uuid;

use super::Fleet;

/// A request nobody answered is dropped after this long.
pub use crate::alert::RUN_REQUEST_TTL as RUN_NOW_TTL;

/// Pending requests by probe name.
#[derive(Debug, Default)]
pub(super) struct Queue(BTreeMap<String, Vec<RunRequest>>);

impl Queue {
    /// The probe's requests that have not expired, oldest first.
    pub fn pending(&mut self, probe: &str, now: DateTime<Utc>) -> Vec<RunRequest> {
        let ttl = chrono::Duration::from_std(RUN_NOW_TTL).unwrap_or(chrono::Duration::MAX);
        let Some(queue) = self.0.get_mut(probe) else {
            return Vec::new();
        };
        queue.retain(|r| now.signed_duration_since(r.requested_at) < ttl);
        queue.clone()
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
    pub fn complete_run(&self, probe: &str, id: Uuid) {
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
