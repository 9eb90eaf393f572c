//! Which probe of a region runs each scenario, worked out once per region
//! for a live set and a catalog rather than once per plan request. With
//! 10,000 scenarios and ten live probes in a region that is 100,000 scores;
//! a probe joining wakes every long-polling probe, and each one asking for
//! its plan must not pay for it again.
//!
//! A scenario that needs a capability is owned among the live probes that
//! announced it; when the region has live probes but none of them, the
//! scenario stays unassigned there, and each such change is logged once.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use scenarios::wire::Capabilities;

use crate::assignment;
use crate::catalog::Catalog;

/// Every region's assignment, as last worked out.
#[derive(Debug, Default)]
pub(super) struct Assignments {
    regions: HashMap<String, RegionAssignment>,
}

#[derive(Debug)]
struct RegionAssignment {
    inputs: Inputs,
    /// Scenario names by owning probe, in catalog (name) order.
    by_probe: HashMap<String, Arc<Vec<String>>>,
    /// Scenarios left without a probe although the region has live ones:
    /// none of them has a capability the scenario needs.
    unassigned: BTreeSet<String>,
}

/// What an assignment depends on: the catalog as published and the
/// region's live probes.
#[derive(Debug, PartialEq)]
struct Inputs {
    generation: u64,
    loaded_at: Option<DateTime<Utc>>,
    scenarios: usize,
    /// Live probes with what each announced.
    live: Vec<(String, Capabilities)>,
}

impl Assignments {
    /// The scenarios `probe` of `region` runs while `live` are the region's
    /// live probes.
    pub(super) fn of(
        &mut self,
        probe: &str,
        region: &str,
        live: Vec<(String, Capabilities)>,
        catalog: &Catalog,
    ) -> Arc<Vec<String>> {
        let inputs = Inputs {
            generation: catalog.generation,
            loaded_at: catalog.loaded_at,
            scenarios: catalog.scenarios.len(),
            live,
        };
        let current = self.regions.get(region).is_some_and(|r| r.inputs == inputs);
        if !current {
            let (by_probe, unassigned) = work_out(region, &inputs.live, catalog);
            let before = self.regions.get(region).map(|r| &r.unassigned);
            log_changes(region, before, &unassigned, catalog);
            let worked_out = RegionAssignment {
                inputs,
                by_probe,
                unassigned,
            };
            self.regions.insert(region.to_owned(), worked_out);
        }
        self.regions
            .get(region)
            .and_then(|r| r.by_probe.get(probe))
            .cloned()
            .unwrap_or_default()
    }
}

/// Each scenario that runs in `region` under its owner among the `live`
/// probes that have what it needs, and the scenarios none of them can run.
fn work_out(
    region: &str,
    live: &[(String, Capabilities)],
    catalog: &Catalog,
) -> (HashMap<String, Arc<Vec<String>>>, BTreeSet<String>) {
    let mut by_probe: HashMap<&str, Vec<String>> = HashMap::new();
    let mut unassigned = BTreeSet::new();
    // A scenario without `regions` runs in every region that has a
    // probe, and this one has.
    let here = catalog.scenarios.values().filter(|s| {
        s.regions
            .as_ref()
            .is_none_or(|regions| regions.iter().any(|r| r == region))
    });
    for s in here {
        let capable = live
            .iter()
            .filter(|(_, has)| has.covers(&s.needs))
            .map(|(name, _)| name.as_str());
        match assignment::owner(&s.name, region, capable) {
            Some(owner) => by_probe.entry(owner).or_default().push(s.name.clone()),
            None if !live.is_empty() => {
                unassigned.insert(s.name.clone());
            }
            None => {}
        }
    }
    let by_probe = by_probe
        .into_iter()
        .map(|(probe, names)| (probe.to_owned(), Arc::new(names)))
        .collect();
    (by_probe, unassigned)
}

/// Logs each scenario that became unassigned in `region` for want of a
/// capable probe, and each that has one again (a scenario removed from the
/// catalog is not news).
fn log_changes(
    region: &str,
    before: Option<&BTreeSet<String>>,
    now: &BTreeSet<String>,
    catalog: &Catalog,
) {
    let empty = BTreeSet::new();
    let before = before.unwrap_or(&empty);
    for name in now.difference(before) {
        let needs = catalog.get(name).map(|s| s.needs).unwrap_or_default();
        tracing::warn!(
            scenario = %name, region = %region, needs = %needs,
            "No live probe of the region has what the scenario needs; it is not assigned there."
        );
    }
    for name in before.difference(now) {
        if catalog.get(name).is_some() {
            tracing::info!(scenario = %name, region = %region, "Scenario assigned again: a live probe has what it needs.");
        }
    }
}
