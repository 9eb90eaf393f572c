//! A probe's plan: the scenarios it owns now and the runs asked of it,
//! with a content hash (the ETag) and a revision that grows with each
//! change of this probe's plan.

use scenarios::wire::{Plan, PlannedScenario};
use sha2::{Digest, Sha256};

use super::Fleet;
use crate::auth::ProbeIdentity;
use crate::catalog::Catalog;
use crate::store::StoreError;

/// A plan and its ETag.
#[derive(Debug, Clone)]
pub struct PlanView {
    pub plan: Plan,
    /// Quoted, as sent in the `ETag` header.
    pub etag: String,
}

/// The quoted ETag of a plan content hash.
pub fn plan_etag(hash: &str) -> String {
    format!("\"{hash}\"")
}

impl Fleet {
    /// The plan of `id` now. Bumps (and persists) its revision when the
    /// content changed since the last plan it was given.
    ///
    /// # Errors
    /// When a new revision cannot be stored.
    pub async fn plan(
        &self,
        id: &ProbeIdentity,
        catalog: &Catalog,
    ) -> Result<PlanView, StoreError> {
        let assigned = self.assigned(&id.name, catalog);
        let scenarios: Vec<PlannedScenario> = assigned
            .iter()
            .filter_map(|name| catalog.get(name))
            .map(|s| PlannedScenario {
                name: s.name.clone(),
                path: s.path.clone(),
                version: s.version.clone(),
                source: s.source.clone(),
                files: s.files.clone(),
            })
            .collect();
        let now = self.clock.now();
        let (run_now, hash, revision, changed) = {
            let mut state = self.lock();
            let run_now = state.run_now.pending(&id.name, now);
            let hash = content_hash(id, &scenarios, &run_now);
            let (revision, changed) = match state.probes.get_mut(&id.name) {
                Some(p) if p.plan_hash.as_deref() != Some(hash.as_str()) => {
                    p.plan_revision += 1;
                    p.plan_hash = Some(hash.clone());
                    (p.plan_revision, Some(p.row()))
                }
                Some(p) => (p.plan_revision, None),
                None => (0, None),
            };
            (run_now, hash, revision, changed)
        };
        if let Some(row) = changed {
            tracing::info!(probe = %id.name, revision, scenarios = scenarios.len(), "Plan changed.");
            self.store.write(move |tx| tx.upsert_probe(&row)).await?;
        }
        Ok(PlanView {
            etag: plan_etag(&hash),
            plan: Plan {
                revision,
                probe: id.name.clone(),
                region: id.region.clone(),
                scenarios,
                run_now,
            },
        })
    }
}

/// SHA-256 (first 16 bytes, hex) over what the probe would act on.
fn content_hash(
    id: &ProbeIdentity,
    scenarios: &[PlannedScenario],
    run_now: &[scenarios::wire::RunRequest],
) -> String {
    let mut hasher = Sha256::new();
    let mut part = |s: &str| {
        hasher.update((s.len() as u64).to_be_bytes());
        hasher.update(s.as_bytes());
    };
    part(&id.name);
    part(&id.region);
    for s in scenarios {
        part(&s.name);
        part(&s.path);
        part(&s.version);
    }
    part("run_now");
    for r in run_now {
        part(&r.id.to_string());
        part(&r.scenario);
    }
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
