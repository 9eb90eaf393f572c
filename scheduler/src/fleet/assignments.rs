//! Which probe of a region runs each scenario, worked out once per region
//! for a live set and a catalog rather than once per plan request. With
//! 10,000 scenarios and ten live probes in a region that is 100,000 scores;
//! a probe joining wakes every long-polling probe, and each one asking for
//! its plan must not pay for it again.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

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
}

/// What an assignment depends on: the catalog as published and the
/// region's live probes.
#[derive(Debug, PartialEq)]
struct Inputs {
    generation: u64,
    loaded_at: Option<DateTime<Utc>>,
    scenarios: usize,
    live: Vec<String>,
}

impl Assignments {
    /// The scenarios `probe` of `region` runs while `live` are the region's
    /// live probes.
    pub(super) fn of(
        &mut self,
        probe: &str,
        region: &str,
        live: Vec<String>,
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
            let by_probe = work_out(region, &inputs.live, catalog);
            self.regions
                .insert(region.to_owned(), RegionAssignment { inputs, by_probe });
        }
        self.regions
            .get(region)
            .and_then(|r| r.by_probe.get(probe))
            .cloned()
            .unwrap_or_default()
    }
}

/// Each scenario that runs in `region` under its owner among `live`.
fn work_out(region: &str, live: &[String], catalog: &Catalog) -> HashMap<String, Arc<Vec<String>>> {
    let mut by_probe: HashMap<&str, Vec<String>> = HashMap::new();
    // A scenario without `regions` runs in every region that has a
    // probe, and this one has.
    let here = catalog.scenarios.values().filter(|s| {
        s.regions
            .as_ref()
            .is_none_or(|regions| regions.iter().any(|r| r == region))
    });
    for s in here {
        if let Some(owner) = assignment::owner(&s.name, region, live.iter().map(String::as_str)) {
            by_probe.entry(owner).or_default().push(s.name.clone());
        }
    }
    by_probe
        .into_iter()
        .map(|(probe, names)| (probe.to_owned(), Arc::new(names)))
        .collect()
}
