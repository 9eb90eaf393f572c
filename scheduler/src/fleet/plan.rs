//! A probe's plan: the scenarios it owns now and the runs asked of it,
//! with a content hash (the ETag) and a revision that grows with each
//! change of this probe's plan.

use std::sync::Arc;

use scenarios::wire::{Plan, PlannedScenario, RunRequest};
use sha2::{Digest, Sha256};

use super::Fleet;
use crate::auth::ProbeIdentity;
use crate::catalog::{Catalog, CatalogScenario};
use crate::store::StoreError;

/// A plan and its ETag. The scenarios are the catalog's own: a long poll
/// computes the plan on every wake-up and mostly answers 304, so the wire
/// form is made only for a plan that is sent.
#[derive(Debug, Clone)]
pub struct PlanView {
    /// Quoted, as sent in the `ETag` header.
    pub etag: String,
    revision: u64,
    probe: String,
    region: String,
    scenarios: Vec<Arc<CatalogScenario>>,
    run_now: Vec<RunRequest>,
}

impl PlanView {
    /// The plan as sent to the probe.
    pub fn into_plan(self) -> Plan {
        Plan {
            revision: self.revision,
            probe: self.probe,
            region: self.region,
            scenarios: self
                .scenarios
                .iter()
                .map(|s| PlannedScenario {
                    name: s.name.clone(),
                    path: s.path.clone(),
                    version: s.version.clone(),
                    source: s.source.clone(),
                    files: s.files.clone(),
                })
                .collect(),
            run_now: self.run_now,
        }
    }
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
        let scenarios: Vec<Arc<CatalogScenario>> = assigned
            .iter()
            .filter_map(|name| catalog.get(name))
            .cloned()
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
            revision,
            probe: id.name.clone(),
            region: id.region.clone(),
            scenarios,
            run_now,
        })
    }
}

/// SHA-256 (first 16 bytes, hex) over what the probe would act on.
fn content_hash(
    id: &ProbeIdentity,
    scenarios: &[Arc<CatalogScenario>],
    run_now: &[RunRequest],
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
