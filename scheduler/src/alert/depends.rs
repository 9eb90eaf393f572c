//! `depends_on` in the engine. While a scenario's parent (a scenario it
//! names in `depends_on`) is down in a region, the scenario's alert there
//! explains nothing new: it is suppressed (recorded with a `suppressed`
//! timeline entry, never sent), and the parent's alert lists it among its
//! `dependents`. A global alert is suppressed when one parent is down in
//! every region it covers: a region where every parent is up is an outage
//! of the scenario's own.
//!
//! Only alerts not sent yet are suppressed: one that already paged stays
//! as it is when its parent goes down later. The catalog refuses cycles,
//! so two scenarios never suppress each other.

use std::collections::BTreeSet;

use super::engine::State;
use super::model::Alert;
use super::state::Health;
use super::world::World;
use crate::catalog::CatalogScenario;

/// Whether `scenario` is down in `region` as alerts count it (a region
/// without a live probe is unknown, never down).
fn down(st: &State, world: &World, scenario: &str, region: &str) -> bool {
    world.presumed_live(region, &world.needs(scenario))
        && st
            .health
            .get(&(scenario.to_owned(), region.to_owned()))
            .is_some_and(|h| h.health == Health::Down)
}

/// Why an alert of `s` covering `regions` is suppressed now, for its
/// timeline: the first parent down in every one of them.
pub(super) fn suppressed_by(
    st: &State,
    world: &World,
    s: &CatalogScenario,
    regions: &[String],
) -> Option<String> {
    if regions.is_empty() {
        return None;
    }
    let parent = s.scenario.depends_on.iter().find(|parent| {
        world.catalog.get(parent).is_some() && regions.iter().all(|r| down(st, world, parent, r))
    })?;
    Some(format!(
        "depends on {parent}, which is down in {}",
        regions.join(", ")
    ))
}

/// The scenarios that depend on `name` and are down in one of `regions`,
/// by name: what the parent's page lists.
pub(super) fn dependents_down(
    st: &State,
    world: &World,
    name: &str,
    regions: &[String],
) -> Vec<String> {
    world
        .catalog
        .scenarios
        .values()
        .filter(|d| d.scenario.depends_on.iter().any(|p| p == name))
        .filter(|d| regions.iter().any(|r| down(st, world, &d.name, r)))
        .map(|d| d.name.clone())
        .collect()
}

/// The parents of `s` that are failing or down in every one of `regions`,
/// and not yet down in one of them: a new alert of `s` there waits for
/// them, since it would be suppressed if they went down.
pub(super) fn parents_failing(
    st: &State,
    world: &World,
    s: &CatalogScenario,
    regions: &[String],
) -> Vec<String> {
    let failing = |parent: &str, region: &str| {
        world.live(region, &world.needs(parent))
            && st
                .health
                .get(&(parent.to_owned(), region.to_owned()))
                .is_some_and(|h| h.health != Health::Down && h.fails > 0)
    };
    s.scenario
        .depends_on
        .iter()
        .filter(|p| {
            regions
                .iter()
                .all(|r| failing(p, r) || down(st, world, p, r))
        })
        .filter(|p| regions.iter().any(|r| failing(p, r)))
        .cloned()
        .collect()
}

/// Whether alert `a`, no longer suppressed since `since` (Unix ms), still
/// waits for a failed run of its own in each of its regions that started
/// after its parent recovered. A parent and its dependent usually recover
/// together, and the parent's good run may simply arrive first: paging
/// the dependent for a failure its parent caused is the noise
/// `depends_on` exists to avoid.
pub(super) fn rechecking(st: &State, a: &Alert, since: i64) -> bool {
    let Some(scenario) = a.scenario.as_deref() else {
        return false;
    };
    !a.regions.iter().all(|r| {
        st.health
            .get(&(scenario.to_owned(), r.clone()))
            .is_some_and(|h| h.last_started > since && h.fails > 0)
    })
}

/// The scenarios whose alerts may change when those in `changed` change
/// state: their parents (whose lists of dependents change) and their
/// dependents (whose suppression does).
pub(super) fn related(world: &World, changed: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in world.catalog.scenarios.values() {
        if changed.contains(&s.name) {
            out.extend(s.scenario.depends_on.iter().cloned());
        }
        if s.scenario.depends_on.iter().any(|p| changed.contains(p)) {
            out.insert(s.name.clone());
        }
    }
    out
}
