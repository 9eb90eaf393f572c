//! The fleet: registered probes, who is live, what each one runs.
//!
//! A probe registers with its first authenticated request; every plan and
//! results call updates `last_seen`. A probe is live while `last_seen` is
//! within `probe_silence`. Any change that can move an assignment (a probe
//! registering, going silent or coming back, announcing other
//! capabilities, an on-demand run queued) bumps the fleet's epoch, which
//! wakes long-polling plan requests.
//!
//! A scenario that needs a capability (`browser`) is given only to a live
//! probe of the region that announced it (`X-Sonde-Capabilities`, kept in
//! memory from the probe's latest plan request): a region whose live
//! probes all lack it leaves the scenario unassigned there.
//!
//! - `plan`: a probe's plan, its content hash (the ETag) and revision.
//! - `run_now`: on-demand runs waiting for a probe (in the store, so a
//!   restart and every replica sharing it see them), and the callers
//!   waiting for their results.

mod assignments;
mod plan;
mod run_now;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use scenarios::wire::Capabilities;
use tokio::sync::watch;

pub use plan::{PlanView, plan_etag};

use crate::alert::{ProbeClock, ProbeSpool};
use crate::assignment;
use crate::auth::ProbeIdentity;
use crate::catalog::{Catalog, CatalogScenario};
use crate::clock::Clock;
use crate::store::probes::ProbeRow;
use crate::store::{Store, StoreError};

/// `last_seen` is written to the store at most this often per probe when
/// nothing else changed (the in-memory value is always current).
const PERSIST_EVERY: Duration = Duration::from_secs(10);

/// What the scheduler knows about a probe.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeState {
    pub name: String,
    pub region: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub version: Option<String>,
    pub spool_depth: Option<i64>,
    /// What its latest results said about its clock (not stored).
    pub clock: ProbeClock,
    /// What it last said about its spool's disk (not stored).
    pub spool: ProbeSpool,
    /// What it announced on its latest plan request (not stored: a probe
    /// long-polls constantly, so a restarted scheduler learns it at once).
    pub capabilities: Capabilities,
    plan_hash: Option<String>,
    plan_revision: u64,
    persisted_at: Option<DateTime<Utc>>,
}

impl ProbeState {
    fn from_row(row: ProbeRow) -> Self {
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        ProbeState {
            first_seen: at(row.first_seen),
            last_seen: at(row.last_seen),
            persisted_at: Some(at(row.last_seen)),
            name: row.name,
            region: row.region,
            version: row.version,
            spool_depth: row.spool_depth,
            clock: ProbeClock::Unknown,
            spool: ProbeSpool::Unknown,
            capabilities: Capabilities::NONE,
            plan_hash: row.plan_hash,
            plan_revision: u64::try_from(row.plan_revision).unwrap_or(0),
        }
    }

    fn row(&self) -> ProbeRow {
        ProbeRow {
            name: self.name.clone(),
            region: self.region.clone(),
            first_seen: self.first_seen.timestamp_millis(),
            last_seen: self.last_seen.timestamp_millis(),
            version: self.version.clone(),
            spool_depth: self.spool_depth,
            plan_hash: self.plan_hash.clone(),
            plan_revision: i64::try_from(self.plan_revision).unwrap_or(i64::MAX),
        }
    }
}

/// What a probe tells about itself on each call.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub version: Option<String>,
    pub spool_depth: Option<i64>,
    /// Whether its spool's disk is full (`X-Sonde-Spool-Full`), when it told.
    pub spool_full: Option<bool>,
    /// What it announced (`X-Sonde-Capabilities`): `Some` on plan
    /// requests, which always announce, `None` on calls that do not.
    pub capabilities: Option<Capabilities>,
}

#[derive(Debug, Default)]
struct State {
    probes: BTreeMap<String, ProbeState>,
    /// The live set when last computed.
    live: BTreeSet<String>,
    run_now: run_now::Queue,
}

/// Probes, liveness and assignments.
#[derive(Debug)]
pub struct Fleet {
    state: Mutex<State>,
    epoch: watch::Sender<u64>,
    clock: Arc<dyn Clock>,
    silence: Duration,
    store: Store,
    waiters: run_now::Waiters,
    assignments: Mutex<assignments::Assignments>,
}

impl Fleet {
    /// The fleet as the store remembers it, with the on-demand runs still
    /// out queued again.
    ///
    /// # Errors
    /// Store errors.
    pub async fn load(
        store: Store,
        clock: Arc<dyn Clock>,
        silence: Duration,
    ) -> Result<Fleet, StoreError> {
        let rows = store.read(|tx| tx.probes()).await?;
        let probes = rows
            .into_iter()
            .map(|row| (row.name.clone(), ProbeState::from_row(row)))
            .collect();
        let fleet = Fleet {
            state: Mutex::new(State {
                probes,
                ..State::default()
            }),
            epoch: watch::channel(0).0,
            clock,
            silence,
            store,
            waiters: run_now::Waiters::default(),
            assignments: Mutex::default(),
        };
        fleet.refresh_liveness();
        let restored = fleet.restore_runs().await?;
        if restored > 0 {
            tracing::info!(restored, "On-demand runs still out queued again.");
        }
        Ok(fleet)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wakes everyone waiting for a plan change.
    pub fn bump(&self) {
        self.epoch.send_modify(|e| *e += 1);
    }

    /// A receiver that changes whenever assignments may have changed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.epoch.subscribe()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn is_live(&self, probe: &ProbeState, now: DateTime<Utc>) -> bool {
        let silence = chrono::Duration::from_std(self.silence).unwrap_or(chrono::Duration::MAX);
        now.signed_duration_since(probe.last_seen) <= silence
    }

    /// Records a call from `id` and persists it when due.
    ///
    /// # Errors
    /// When the store cannot record a new or changed probe.
    pub async fn touch(&self, id: &ProbeIdentity, report: Report) -> Result<(), StoreError> {
        let announced = report.capabilities;
        let row = self.touch_in_memory(id, report);
        if let Some(capabilities) = announced {
            self.announced(&id.name, capabilities);
        }
        self.refresh_liveness();
        match row {
            Some(row) => self.store.write(move |tx| tx.upsert_probe(&row)).await,
            None => Ok(()),
        }
    }

    fn touch_in_memory(&self, id: &ProbeIdentity, report: Report) -> Option<ProbeRow> {
        let now = self.clock.now();
        let mut state = self.lock();
        let probe = state.probes.entry(id.name.clone()).or_insert_with(|| {
            tracing::info!(probe = %id.name, region = %id.region, "Probe registered.");
            ProbeState {
                name: id.name.clone(),
                region: id.region.clone(),
                first_seen: now,
                last_seen: now,
                version: None,
                spool_depth: None,
                clock: ProbeClock::Unknown,
                spool: ProbeSpool::Unknown,
                capabilities: Capabilities::NONE,
                plan_hash: None,
                plan_revision: 0,
                persisted_at: None,
            }
        });
        let changed = probe.region != id.region
            || (report.version.is_some() && report.version != probe.version)
            || probe.persisted_at.is_none();
        probe.region.clone_from(&id.region);
        probe.last_seen = probe.last_seen.max(now);
        if report.version.is_some() {
            probe.version = report.version;
        }
        if report.spool_depth.is_some() {
            probe.spool_depth = report.spool_depth;
        }
        match report.spool_full {
            Some(true) => probe.spool = ProbeSpool::Full,
            Some(false) => probe.spool = ProbeSpool::Fine,
            None => {}
        }
        let due = probe.persisted_at.is_none_or(|at| {
            now.signed_duration_since(at).to_std().unwrap_or_default() >= PERSIST_EVERY
        });
        (changed || due).then(|| {
            probe.persisted_at = Some(now);
            probe.row()
        })
    }

    /// Records what `probe` announced; a change can move scenarios, so it
    /// wakes the long polls.
    fn announced(&self, probe: &str, capabilities: Capabilities) {
        let mut state = self.lock();
        let Some(p) = state.probes.get_mut(probe) else {
            return;
        };
        if p.capabilities == capabilities {
            return;
        }
        p.capabilities = capabilities;
        drop(state);
        tracing::info!(probe = %probe, capabilities = %capabilities, "Probe capabilities changed.");
        self.bump();
    }

    /// Stores every probe's latest call not stored yet (calls are stored at
    /// most every [`PERSIST_EVERY`]): at shutdown, so a restarted or
    /// migrated scheduler knows when each probe was last seen.
    ///
    /// # Errors
    /// Store errors.
    pub async fn persist_all(&self) -> Result<(), StoreError> {
        let rows: Vec<ProbeRow> = {
            let mut state = self.lock();
            state
                .probes
                .values_mut()
                .filter(|p| p.persisted_at.is_none_or(|at| at < p.last_seen))
                .map(|p| {
                    p.persisted_at = Some(p.last_seen);
                    p.row()
                })
                .collect()
        };
        if rows.is_empty() {
            return Ok(());
        }
        self.store
            .write(move |tx| rows.iter().try_for_each(|row| tx.upsert_probe(row)))
            .await
    }

    /// Takes in what other replicas sharing the store recorded of probes
    /// (a probe talks to one replica at a time): probes registered there,
    /// and calls newer than this replica saw, so every replica judges
    /// liveness alike (to within the persisting interval).
    ///
    /// # Errors
    /// Store errors.
    pub async fn absorb_stored(&self) -> Result<(), StoreError> {
        let rows = self.store.read(|tx| tx.probes()).await?;
        {
            let mut state = self.lock();
            for row in rows {
                let seen = DateTime::from_timestamp_millis(row.last_seen).unwrap_or_default();
                match state.probes.get_mut(&row.name) {
                    Some(probe) if seen > probe.last_seen => {
                        probe.last_seen = seen;
                        probe.region = row.region;
                        if row.version.is_some() {
                            probe.version = row.version;
                        }
                        if row.spool_depth.is_some() {
                            probe.spool_depth = row.spool_depth;
                        }
                    }
                    Some(_) => {}
                    None => {
                        tracing::info!(probe = %row.name, region = %row.region, "Probe registered through another replica.");
                        state
                            .probes
                            .insert(row.name.clone(), ProbeState::from_row(row));
                    }
                }
            }
        }
        self.refresh_liveness();
        Ok(())
    }

    /// Records what `probe`'s latest results said about its clock; the
    /// alert engine raises or resolves its clock alert from it.
    pub fn clock_checked(&self, probe: &str, clock: ProbeClock) {
        if let Some(p) = self.lock().probes.get_mut(probe) {
            p.clock = clock;
        }
    }

    /// Recomputes who is live; bumps the epoch when that changed. Returns
    /// whether it did.
    pub fn refresh_liveness(&self) -> bool {
        let now = self.clock.now();
        let mut state = self.lock();
        let live: BTreeSet<String> = state
            .probes
            .values()
            .filter(|p| self.is_live(p, now))
            .map(|p| p.name.clone())
            .collect();
        if live == state.live {
            return false;
        }
        for gone in state.live.difference(&live) {
            tracing::warn!(probe = %gone, "Probe went silent; its scenarios move to other probes of its region.");
        }
        for back in live.difference(&state.live) {
            tracing::info!(probe = %back, "Probe is live.");
        }
        state.live = live;
        drop(state);
        self.bump();
        true
    }

    /// Every probe, by name, with whether it is live now.
    pub fn probes(&self) -> Vec<(ProbeState, bool)> {
        let now = self.clock.now();
        self.lock()
            .probes
            .values()
            .map(|p| (p.clone(), self.is_live(p, now)))
            .collect()
    }

    /// Every region that has had a registered probe.
    pub fn regions(&self) -> BTreeSet<String> {
        self.lock()
            .probes
            .values()
            .map(|p| p.region.clone())
            .collect()
    }

    /// The regions `scenario` runs in.
    pub fn regions_of(&self, scenario: &CatalogScenario) -> Vec<String> {
        match &scenario.regions {
            Some(regions) => regions.clone(),
            None => self.regions().into_iter().collect(),
        }
    }

    /// Live probes of `region` now.
    pub fn live_in(&self, region: &str) -> Vec<String> {
        self.capable_in(region, &Capabilities::NONE)
    }

    /// Live probes of `region` now that have every capability in `needs`.
    pub fn capable_in(&self, region: &str, needs: &Capabilities) -> Vec<String> {
        self.live_with_capabilities(region)
            .into_iter()
            .filter(|(_, has)| has.covers(needs))
            .map(|(name, _)| name)
            .collect()
    }

    /// Live probes of `region` now, with what each announced.
    fn live_with_capabilities(&self, region: &str) -> Vec<(String, Capabilities)> {
        let now = self.clock.now();
        self.lock()
            .probes
            .values()
            .filter(|p| p.region == region && self.is_live(p, now))
            .map(|p| (p.name.clone(), p.capabilities))
            .collect()
    }

    /// The probe that runs `scenario` (which needs `needs`) in `region`
    /// now, if a live one can.
    pub fn owner(&self, scenario: &str, needs: &Capabilities, region: &str) -> Option<String> {
        let capable = self.capable_in(region, needs);
        assignment::owner(scenario, region, capable.iter().map(String::as_str)).map(str::to_owned)
    }

    /// Why `s` has no probe in `region` now, if it has none: no live probe
    /// at all, or none with a capability it needs.
    pub fn unassigned_reason(&self, s: &CatalogScenario, region: &str) -> Option<String> {
        if !self.capable_in(region, &s.needs).is_empty() {
            return None;
        }
        if self.live_in(region).is_empty() {
            return Some("no live probe".to_owned());
        }
        Some(format!(
            "no live probe with the {} capability",
            s.needs.names().join(", ")
        ))
    }

    /// The scenarios `probe` runs now, by name.
    pub fn assigned(&self, probe: &str, catalog: &Catalog) -> Arc<Vec<String>> {
        let Some(region) = self.lock().probes.get(probe).map(|p| p.region.clone()) else {
            return Arc::default();
        };
        let live = self.live_with_capabilities(&region);
        if !live.iter().any(|(p, _)| p == probe) {
            return Arc::default();
        }
        self.assignments
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .of(probe, &region, live, catalog)
    }
}
