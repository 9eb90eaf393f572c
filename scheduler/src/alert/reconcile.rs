//! From state to alerts: each evaluation works out the alerts that should
//! be firing (regional, global, latency, SLO, probe, region) and brings
//! the open ones in line — opening, grouping, muting and resolving them,
//! with a timeline entry and, when receivers must hear of it, an event.

use std::collections::BTreeMap;

use scenarios::model::Severity;
use scenarios::wire::Capabilities;

use super::desired::{Desired, confirm_targets, desired_for};
use super::engine::{Engine, State, Tx};
use super::hold::{Hold, hold};
use super::measure::slo_status_at;
use super::model::{Alert, AlertStatus, Scope};
use super::state::Health;
use super::stored::StoredAlert;
use super::world::{ProbeClock, ProbeSpool, ProbeView, World};
use crate::catalog::CatalogScenario;
use crate::store::StoreError;
use crate::store::alerts::ConfirmRequestRow;

/// Which open alerts one evaluation is about.
#[derive(Clone, Copy)]
enum Owner<'a> {
    Scenario {
        name: &'a str,
        /// The SLO is not computed yet: leave SLO alerts as they are.
        keep_slo: bool,
        /// No anomaly verdict yet: leave anomaly alerts as they are.
        keep_anomaly: bool,
    },
    Probes,
}

impl Owner<'_> {
    fn owns(self, a: &Alert) -> bool {
        match self {
            Owner::Scenario {
                name,
                keep_slo,
                keep_anomaly,
            } => {
                a.scenario.as_deref() == Some(name)
                    && a.scope != Scope::Probe
                    && !(keep_slo && a.scope == Scope::Slo)
                    && !(keep_anomaly && a.scope == Scope::Anomaly)
            }
            Owner::Probes => a.scope == Scope::Probe,
        }
    }
}

fn probe_alert(
    world: &World,
    id: String,
    region: &str,
    probe: Option<&str>,
    summary: String,
) -> Alert {
    Alert {
        regions: vec![region.to_owned()],
        probe: probe.map(str::to_owned),
        url: Some(format!("{}/api/v1/probes", world.base_url)),
        summary,
        ..Alert::new(id, Scope::Probe, Severity::Warning, world.now)
    }
}

/// The id of `probe`'s clock alert.
pub fn clock_alert_id(probe: &str) -> String {
    format!("probe/{probe}/clock")
}

/// `p`'s clock alert while its results are rejected for running ahead. It
/// ends with a result in time, or when the probe stops reporting (its own
/// alert then). Right after a restart nothing is known of the clock yet,
/// so an open alert stays until the probe's next results tell.
fn clock_alert(st: &State, world: &World, p: &ProbeView) -> Option<Alert> {
    if !p.presumed_live {
        return None;
    }
    let id = clock_alert_id(&p.name);
    match p.clock {
        ProbeClock::Ahead(ahead) => {
            let summary = format!(
                "probe {} in {} sends results {} ahead of the scheduler's clock (max_clock_skew {}); \
                 they are rejected: fix its clock (NTP)",
                p.name,
                p.region,
                crate::clock_skew::human(ahead),
                scenarios::duration::Human(world.max_clock_skew),
            );
            Some(probe_alert(world, id, &p.region, Some(&p.name), summary))
        }
        ProbeClock::Unknown if world.starting => st.open.get(&id).map(|a| a.alert.clone()),
        ProbeClock::Unknown | ProbeClock::InTime => None,
    }
}

/// The id of `probe`'s spool alert.
pub fn spool_alert_id(probe: &str) -> String {
    format!("probe/{probe}/spool")
}

/// `p`'s spool alert while it says its spool's disk is full. It ends when
/// the probe says the spool takes results again, or when it stops
/// reporting (its own alert then). Right after a restart nothing is known
/// yet, so an open alert stays until the probe's next call tells.
fn spool_alert(st: &State, world: &World, p: &ProbeView) -> Option<Alert> {
    if !p.presumed_live {
        return None;
    }
    let id = spool_alert_id(&p.name);
    match p.spool {
        ProbeSpool::Full => {
            let summary = format!(
                "probe {} in {}: its spool's disk is full; it drops its oldest undelivered \
                 results to keep the newest: free space under its --spool-dir",
                p.name, p.region,
            );
            Some(probe_alert(world, id, &p.region, Some(&p.name), summary))
        }
        ProbeSpool::Unknown if world.starting => st.open.get(&id).map(|a| a.alert.clone()),
        ProbeSpool::Unknown | ProbeSpool::Fine => None,
    }
}

/// The one `region/REGION` alert: the region has no probe to run there.
fn region_alert(world: &World, region: &str, summary: String) -> Alert {
    probe_alert(world, format!("region/{region}"), region, None, summary)
}

/// Why a scenario alert ends without its regions recovering: the probes
/// of one of them went silent, so what it shows there is unknown.
fn unknown_now(world: &World, a: &Alert) -> Option<String> {
    if a.scope == Scope::Probe {
        return None;
    }
    let needs = world.needs(a.scenario.as_deref().unwrap_or_default());
    let silent: Vec<&str> = a
        .regions
        .iter()
        .filter(|r| !world.presumed_live(r, &needs))
        .map(String::as_str)
        .collect();
    if silent.is_empty() {
        return None;
    }
    // Live probes that cannot run it raise no region alert to point at.
    let incapable = silent
        .iter()
        .any(|r| world.presumed_live(r, &Capabilities::NONE));
    Some(if incapable {
        format!(
            "no live probe with the {needs} capability in {}: the state there is unknown",
            silent.join(", ")
        )
    } else {
        format!(
            "no live probe in {}: the state there is unknown (see the region alert)",
            silent.join(", ")
        )
    })
}

/// Recomputes the SLO of `s` from the store while a regional or global
/// alert of it may be about to be sent (a region is down and no such
/// alert was sent yet): that page carries the burn, which must include
/// the runs that took the region down, not the last periodic
/// measurement's.
fn refresh_slo_for_incident(
    st: &mut State,
    tx: &Tx<'_>,
    world: &World,
    s: &CatalogScenario,
) -> Result<(), StoreError> {
    let Some(objective) = &s.scenario.alert.slo else {
        return Ok(());
    };
    // As `desired_for` counts them: a region without a live probe raises
    // no alert, and must not make every evaluation query the store.
    let down = world.regions_of(s).into_iter().any(|r| {
        world.presumed_live(&r, &s.needs)
            && st
                .health
                .get(&(s.name.clone(), r))
                .is_some_and(|h| h.health == Health::Down)
    });
    let sent = st.open.values().any(|a| {
        a.alert.scenario.as_deref() == Some(s.name.as_str())
            && matches!(a.alert.scope, Scope::Region | Scope::Global)
            && a.notified
    });
    if down && !sent {
        let status = slo_status_at(tx.store, &s.name, objective, tx.now_ms())?;
        st.slo.insert(s.name.clone(), status);
    }
    Ok(())
}

/// What a grouped alert of `scope` is grouped under.
fn under(scope: Scope) -> &'static str {
    if scope == Scope::Slo {
        "under the scenario's regional or global alert, which carries the burn"
    } else {
        "under the scenario's global alert"
    }
}

/// Why a grouped alert of `scope` stands on its own again.
fn ended(scope: Scope) -> &'static str {
    if scope == Scope::Slo {
        "the scenario's regional and global alerts resolved while the burn goes on"
    } else {
        "the global alert resolved"
    }
}

/// Regions that scenarios name but no probe has ever reported from, with
/// those scenarios; nothing until the engine has run `probe_silence`.
fn never_seen(world: &World) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    if world.starting {
        return out;
    }
    for s in world.catalog.scenarios.values() {
        for region in s.regions.iter().flatten() {
            if !world.regions.contains(region) {
                out.entry(region.as_str()).or_default().push(&s.name);
            }
        }
    }
    out
}

impl Engine {
    /// Brings the alerts of scenario `s` in line with its region states.
    pub(super) fn reconcile_scenario(
        &self,
        st: &mut State,
        tx: &mut Tx<'_>,
        world: &World,
        s: &CatalogScenario,
    ) -> Result<(), StoreError> {
        refresh_slo_for_incident(st, tx, world, s)?;
        let desired = desired_for(st, world, s);
        let owner = Owner::Scenario {
            name: &s.name,
            keep_slo: !st.slo.contains_key(&s.name),
            keep_anomaly: s.scenario.alert.anomaly.is_some()
                && !st.anomaly.keys().any(|(name, _)| *name == s.name),
        };
        self.sync(st, tx, world, owner, desired)
    }

    /// Probe alerts (a silent probe while its region has live ones, one
    /// whose clock runs ahead, or one whose spool's disk is full) and region alerts (no live probe at all).
    pub(super) fn reconcile_probes(
        &self,
        st: &mut State,
        tx: &mut Tx<'_>,
        world: &World,
    ) -> Result<(), StoreError> {
        let mut desired = Vec::new();
        for region in &world.regions {
            let probes: Vec<_> = world
                .probes
                .iter()
                .filter(|p| &p.region == region)
                .collect();
            if !probes.iter().any(|p| p.presumed_live) {
                let summary = format!(
                    "no live probe in {region}: its scenarios are unknown there (not run, not alerted)"
                );
                desired.push(region_alert(world, region, summary));
                continue;
            }
            for p in probes.iter().filter(|p| !p.presumed_live) {
                let summary = format!(
                    "probe {} in {region} stopped reporting (last seen {}); its scenarios moved to other probes of the region",
                    p.name,
                    scenarios::wire::time::format(&p.last_seen)
                );
                let id = format!("probe/{}", p.name);
                desired.push(probe_alert(world, id, region, Some(&p.name), summary));
            }
        }
        desired.extend(
            world
                .probes
                .iter()
                .filter_map(|p| clock_alert(st, world, p)),
        );
        desired.extend(
            world
                .probes
                .iter()
                .filter_map(|p| spool_alert(st, world, p)),
        );
        for (region, scenarios) in never_seen(world) {
            let summary = format!(
                "no probe has ever reported in {region}, which {} names: {} nowhere there \
                 (a misspelt region, or its probes are not deployed yet)",
                scenarios.join(", "),
                if scenarios.len() == 1 {
                    "it runs"
                } else {
                    "they run"
                }
            );
            desired.push(region_alert(world, region, summary));
        }
        let desired = desired
            .into_iter()
            .map(|alert| Desired {
                alert,
                grouped: false,
                confirm: None,
                suppressed: None,
            })
            .collect();
        self.sync(st, tx, world, Owner::Probes, desired)
    }

    /// Resolves scenario alerts whose scenario left the catalog.
    pub(super) fn resolve_orphans(
        &self,
        st: &mut State,
        tx: &mut Tx<'_>,
        world: &World,
    ) -> Result<(), StoreError> {
        let gone: Vec<String> = st
            .open
            .values()
            .filter(|a| {
                a.alert
                    .scenario
                    .as_deref()
                    .is_some_and(|s| world.catalog.get(s).is_none())
            })
            .map(|a| a.alert.id.clone())
            .collect();
        for id in gone {
            self.resolve(
                st,
                tx,
                &id,
                Some("the scenario was removed from the catalog"),
            )?;
        }
        Ok(())
    }

    fn sync(
        &self,
        st: &mut State,
        tx: &mut Tx<'_>,
        world: &World,
        owner: Owner<'_>,
        desired: Vec<Desired>,
    ) -> Result<(), StoreError> {
        let stale: Vec<String> = st
            .open
            .values()
            .filter(|a| owner.owns(&a.alert))
            .filter(|a| !desired.iter().any(|d| d.alert.id == a.alert.id))
            .map(|a| a.alert.id.clone())
            .collect();
        for id in stale {
            let why = st.open.get(&id).and_then(|a| unknown_now(world, &a.alert));
            self.resolve(st, tx, &id, why.as_deref())?;
        }
        for d in desired {
            if st.open.contains_key(&d.alert.id) {
                self.update(st, tx, world, d)?;
            } else {
                self.open_alert(st, tx, world, d)?;
            }
        }
        Ok(())
    }

    fn open_alert(
        &self,
        st: &mut State,
        tx: &mut Tx<'_>,
        world: &World,
        d: Desired,
    ) -> Result<(), StoreError> {
        let muted = Self::is_muted(st, &d.alert, tx.now);
        let mut a = StoredAlert {
            row: 0,
            alert: d.alert,
            status: AlertStatus::Firing,
            grouped: d.grouped,
            notified: false,
            paged: false,
            muted,
            confirm_request: None,
            confirm_at: None,
        };
        let wants_confirm = d.confirm.is_some();
        let confirms = d
            .confirm
            .map(|region| confirm_targets(world, &a.alert, &region))
            .unwrap_or_default();
        if let Some((_, _, first)) = confirms.first() {
            // The alert row names its first request; every request is
            // stored in `confirm_requests` below.
            a.confirm_request = Some(first.id);
            a.confirm_at = Some(tx.now_ms());
        }
        a.row = tx.store.insert_alert(&a)?;
        for (probe, region, request) in &confirms {
            // Stored with the alert: the fleet's queue does not survive a
            // restart, these do (see `Fleet::load`).
            tx.store.save_confirm_request(&ConfirmRequestRow {
                alert_row: a.row,
                probe: probe.clone(),
                region: region.clone(),
                request: request.clone(),
            })?;
            st.confirms.insert(request.id, (a.row, tx.now_ms()));
        }
        let held = Self::hold_of(st, world, &a);
        tracing::info!(alert = %a.alert.id, grouped = a.grouped, held = held.is_some(), muted, "Alert firing.");
        if a.grouped {
            let under = format!("{}; not sent separately", under(a.alert.scope));
            tx.timeline(a.row, "grouped", Some(&under))?;
        } else if let Some(why) = &d.suppressed {
            tx.timeline(a.row, "suppressed", Some(why))?;
            st.suppressed.insert(a.alert.id.clone());
        } else if let Some(why) = &held {
            tx.timeline(a.row, "held", Some(&why.describe()))?;
        } else {
            Self::fire(st, tx, &mut a)?;
            tx.store.update_alert(&a)?;
        }
        if let Some(why) = muted
            .then(|| Self::mute_reason(st, &a.alert, tx.now))
            .flatten()
        {
            tx.timeline(a.row, "muted", Some(&why))?;
        }
        for (probe, region, request) in confirms {
            let detail = format!("asked probe {probe} in {region} to run the scenario now");
            tx.timeline(a.row, "confirm_requested", Some(&detail))?;
            tx.effects.push((probe, request));
        }
        if wants_confirm && a.confirm_request.is_none() {
            let detail = "no live probe in another region of the scenario";
            tx.timeline(a.row, "confirm_unavailable", Some(detail))?;
        }
        st.open.insert(a.alert.id.clone(), a);
        Ok(())
    }

    /// Sends `a`'s firing (recorded only while it is muted) and marks it
    /// notified; the caller writes the row.
    fn fire(st: &mut State, tx: &Tx<'_>, a: &mut StoredAlert) -> Result<(), StoreError> {
        Self::emit(st, tx, AlertStatus::Firing, &a.alert, a.muted)?;
        tx.timeline(a.row, "fired", Some(&a.alert.summary))?;
        a.notified = true;
        a.paged = !a.muted;
        Ok(())
    }

    /// Why a regional or SLO alert that was never sent still waits, if it
    /// does.
    fn hold_of(st: &State, world: &World, a: &StoredAlert) -> Option<Hold> {
        let s = world.catalog.get(a.alert.scenario.as_deref()?)?;
        hold(st, world, s, a)
    }

    fn update(
        &self,
        st: &mut State,
        tx: &mut Tx<'_>,
        world: &World,
        d: Desired,
    ) -> Result<(), StoreError> {
        let muted_now = Self::is_muted(st, &d.alert, tx.now);
        let Some(mut a) = st.open.remove(&d.alert.id) else {
            return Ok(());
        };
        let mut changed = false;
        // Spreading to more regions is news for whoever was paged; shrinking
        // while it recovers is not, and waits for the resolve.
        let spread = d.alert.regions.iter().any(|r| !a.alert.regions.contains(r));
        if a.alert.regions != d.alert.regions {
            a.alert.regions = d.alert.regions;
            a.alert.summary.clone_from(&d.alert.summary);
            changed = true;
        }
        if a.grouped != d.grouped {
            a.grouped = d.grouped;
            changed = true;
            if d.grouped {
                tx.timeline(a.row, "grouped", Some(under(a.alert.scope)))?;
            } else {
                tx.timeline(a.row, "ungrouped", Some(ended(a.alert.scope)))?;
            }
        }
        if !a.notified && a.alert.summary != d.alert.summary {
            // Not sent yet (held or grouped): when it is, it says what is
            // true then, such as its scenario's newest burn rates.
            a.alert.summary = d.alert.summary;
            changed = true;
        }
        if a.muted != muted_now {
            a.muted = muted_now;
            changed = true;
            if muted_now {
                let why = Self::mute_reason(st, &a.alert, tx.now);
                tx.timeline(a.row, "muted", why.as_deref())?;
            } else {
                tx.timeline(a.row, "unmuted", None)?;
            }
        }
        // Who depends on it and is down too changes while it fires; a new
        // name is news for whoever was paged (one cause, several symptoms).
        let more_dependents = d
            .alert
            .dependents
            .iter()
            .filter(|n| !a.alert.dependents.contains(n))
            .cloned()
            .collect::<Vec<_>>();
        if a.alert.dependents != d.alert.dependents {
            a.alert.dependents = d.alert.dependents;
            changed = true;
        }
        if !a.grouped && !a.notified {
            Self::track_suppression(st, tx, &a, d.suppressed.as_deref())?;
        }
        let suppressed = st.suppressed.contains(&a.alert.id) || Self::rechecking(st, &a.alert);
        if !(a.grouped || a.paged || (a.notified && a.muted) || suppressed)
            && Self::hold_of(st, world, &a).is_none()
        {
            // Never sent: its hold ended, its global alert resolved, its
            // silence ended, or its parent recovered.
            Self::fire(st, tx, &mut a)?;
            changed = true;
        } else if (spread || !more_dependents.is_empty()) && a.notified && !a.grouped {
            Self::emit(st, tx, AlertStatus::Firing, &a.alert, a.muted)?;
            if spread {
                tx.timeline(a.row, "spread", Some(&a.alert.summary))?;
            }
            if !more_dependents.is_empty() {
                let detail = format!("also down, depending on it: {}", more_dependents.join(", "));
                tx.timeline(a.row, "dependents", Some(&detail))?;
            }
        }
        if changed {
            tx.store.update_alert(&a)?;
        }
        st.open.insert(a.alert.id.clone(), a);
        Ok(())
    }

    /// Records when a never-sent alert starts or stops being suppressed by
    /// a parent in `depends_on` (`why` says which, while it is).
    fn track_suppression(
        st: &mut State,
        tx: &Tx<'_>,
        a: &StoredAlert,
        why: Option<&str>,
    ) -> Result<(), StoreError> {
        let was = st.suppressed.contains(&a.alert.id);
        match why {
            Some(why) if !was => {
                tx.timeline(a.row, "suppressed", Some(why))?;
                st.suppressed.insert(a.alert.id.clone());
                st.recheck.remove(&a.alert.id);
            }
            None if was => {
                tx.timeline(
                    a.row,
                    "unsuppressed",
                    Some("no scenario it depends on is down there any more; sent if its next run fails too"),
                )?;
                st.suppressed.remove(&a.alert.id);
                st.recheck.insert(a.alert.id.clone(), tx.now_ms());
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether a formerly suppressed alert still waits for a failed run of
    /// its own (see `depends::rechecking`); forgets it once it does not.
    fn rechecking(st: &mut State, a: &Alert) -> bool {
        let Some(&since) = st.recheck.get(&a.id) else {
            return false;
        };
        let waiting = super::depends::rechecking(st, a, since);
        if !waiting {
            st.recheck.remove(&a.id);
        }
        waiting
    }

    /// Resolves open alert `id`; the resolve is emitted when its firing was.
    fn resolve(
        &self,
        st: &mut State,
        tx: &mut Tx<'_>,
        id: &str,
        why: Option<&str>,
    ) -> Result<(), StoreError> {
        let Some(mut a) = st.open.remove(id) else {
            return Ok(());
        };
        st.suppressed.remove(id);
        st.recheck.remove(id);
        a.status = AlertStatus::Resolved;
        a.alert.ended_at = Some(tx.now);
        let lasted = tx.now.signed_duration_since(a.alert.started_at);
        a.alert.duration_s = Some(lasted.num_milliseconds() as f64 / 1_000.0);
        tx.store.update_alert(&a)?;
        if a.notified {
            // Sent unmuted once: receivers must hear it ended, silence or not.
            Self::emit(st, tx, AlertStatus::Resolved, &a.alert, !a.paged)?;
        }
        tx.timeline(a.row, "resolved", why)?;
        tracing::info!(alert = %a.alert.id, notified = a.notified, "Alert resolved.");
        Ok(())
    }
}
