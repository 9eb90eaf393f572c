//! When a new regional alert waits before it is sent. Regions run a
//! scenario at different offsets within its period, so a target that
//! broke everywhere turns the regions down one after another; paging the
//! first region alone and the global alert a minute later is the double
//! page on-call hates. A regional alert is therefore held:
//!
//! - while its confirmation runs are out (at most the scenario's timeout
//!   and a margin): they tell whether other regions see the failure, and
//!   a failed one counts in its region, which may make the alert global;
//! - while another region of the scenario is failing but not yet down and
//!   enough such regions would make it global, for at most one period of
//!   the scenario from the alert's start (at least [`MIN_GROUP_WAIT`], for
//!   delivery delays; at most [`MAX_GROUP_WAIT`]);
//! - while a scenario it depends on (`depends_on`) is failing in its
//!   region but not down yet, for as long: if the parent goes down, the
//!   alert is suppressed instead of sent (see `depends`). This one holds
//!   a new global alert too, when the parent fails in all its regions.
//!
//! A held alert that turns global is grouped and never sent; one that
//! resolves while held was never sent either.
//!
//! An SLO alert of a scenario with a regional or global alert is grouped
//! under it (`desired`). Before that alert exists, an SLO alert is held
//! while a region of the scenario is failing but not yet down, for at
//! most [`MAX_GROUP_WAIT`] from its start: the burn is that region's
//! failure, and the confirmed regional page must come first and alone.

use std::time::Duration;

use super::depends::parents_failing;
use super::engine::State;
use super::model::Scope;
use super::state::Health;
use super::stored::StoredAlert;
use super::world::World;
use crate::catalog::CatalogScenario;
use crate::clock::millis;

/// The shortest wait for a global alert: results of a region reach the
/// scheduler a little apart even when its runs are close together.
pub const MIN_GROUP_WAIT: Duration = Duration::from_secs(10);
/// The longest a regional alert waits for a global one.
pub const MAX_GROUP_WAIT: Duration = Duration::from_secs(300);
/// What a confirmation run may take beyond the scenario's timeout
/// (plan delivery, result delivery).
pub const CONFIRM_MARGIN: Duration = Duration::from_secs(10);
/// How long an on-demand run request (a confirmation, a run now) stays
/// out: the fleet drops one nobody answered after this long, and the
/// engine stops waiting for it.
pub const RUN_REQUEST_TTL: Duration = Duration::from_secs(600);

/// Why an alert is held, for its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Hold {
    /// Confirmation runs are out.
    Confirming,
    /// These regions are failing but not down yet.
    Grouping(Vec<String>),
    /// These scenarios it depends on are failing here but not down yet.
    Parents(Vec<String>),
    /// An SLO alert: these regions are failing but not down yet.
    Failing(Vec<String>),
}

impl Hold {
    pub fn describe(&self) -> String {
        match self {
            Hold::Confirming => "waiting for the confirmation runs before sending".into(),
            Hold::Grouping(regions) => format!(
                "{} also failing: waiting for a global alert before sending",
                regions.join(", ")
            ),
            Hold::Parents(names) => format!(
                "{} (depends_on) also failing: waiting to see whether it goes down before sending",
                names.join(", ")
            ),
            Hold::Failing(regions) => format!(
                "{} failing: waiting for the regional alert, which will carry the burn",
                regions.join(", ")
            ),
        }
    }
}

/// How many regions of `s` are down, and those with a live probe that
/// are failing but not down yet.
fn down_and_failing(st: &State, world: &World, s: &CatalogScenario) -> (usize, Vec<String>) {
    let mut down = 0usize;
    let mut failing = Vec::new();
    for region in world.regions_of(s) {
        let Some(h) = st.health.get(&(s.name.clone(), region.clone())) else {
            continue;
        };
        if h.health == Health::Down {
            down += 1;
        } else if h.fails > 0 && world.live(&region, &s.needs) {
            failing.push(region);
        }
    }
    (down, failing)
}

/// Whether (and why) regional, global or SLO alert `a` of scenario `s`
/// still waits; a global alert waits only for a failing parent.
pub(super) fn hold(
    st: &State,
    world: &World,
    s: &CatalogScenario,
    a: &StoredAlert,
) -> Option<Hold> {
    if a.grouped || a.notified {
        return None;
    }
    let now = world.now.timestamp_millis();
    let started = a.alert.started_at.timestamp_millis();
    match a.alert.scope {
        Scope::Region | Scope::Global => {}
        Scope::Slo => {
            let (_, failing) = down_and_failing(st, world, s);
            let waited = now.saturating_sub(started) >= millis(MAX_GROUP_WAIT);
            return (!failing.is_empty() && !waited).then_some(Hold::Failing(failing));
        }
        _ => return None,
    }
    let regional = a.alert.scope == Scope::Region;
    let confirm_wait = millis(s.scenario.timeout.saturating_add(CONFIRM_MARGIN));
    let confirming = st
        .confirms
        .values()
        .any(|(row, at)| *row == a.row && now.saturating_sub(*at) < confirm_wait);
    if confirming {
        return Some(Hold::Confirming);
    }
    let policy = &s.scenario.alert;
    let group_wait = millis(
        s.scenario
            .schedule
            .period()
            .clamp(MIN_GROUP_WAIT, MAX_GROUP_WAIT),
    );
    if now.saturating_sub(started) >= group_wait {
        return None;
    }
    let parents = parents_failing(st, world, s, &a.alert.regions);
    if !parents.is_empty() {
        return Some(Hold::Parents(parents));
    }
    if !regional || policy.global_regions == 0 {
        return None;
    }
    let (down, failing) = down_and_failing(st, world, s);
    let could_be_global = down + failing.len() >= policy.global_regions as usize;
    (could_be_global && !failing.is_empty()).then_some(Hold::Grouping(failing))
}
