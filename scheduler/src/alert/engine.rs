//! The engine: in-memory state (mirrored in the store) and the entry
//! points that change it. Every change runs inside one store job, so an
//! alert's new state, its timeline and its events commit together; the
//! single writer thread also puts changes in one order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use scenarios::wire::{RunRequest, RunResult};
use tokio::sync::watch;
use uuid::Uuid;

use super::anomaly::Verdict;
use super::latency;
use super::model::{Alert, AlertEvent, AlertStatus, Confirmation};
use super::silence::Silence;
use super::slo::SloStatus;
use super::state::{Observed, RegionHealth, RegionState};
use super::stored::StoredAlert;
use super::world::World;
use crate::catalog::CatalogScenario;
use crate::clock::Clock;
use crate::maintenance::Window;
use crate::store::{Store, StoreError, Tx as StoreTx};

/// How long a finished silence stays listed.
pub const RECENT_SILENCES: chrono::Duration = chrono::Duration::hours(24);

/// Runs to ask for once the store job that decided them has committed.
pub type Effects = Vec<(String, RunRequest)>;

#[derive(Debug, Default)]
pub(super) struct State {
    /// By (scenario, region).
    pub health: BTreeMap<(String, String), RegionHealth>,
    /// Firing alerts by alert id.
    pub open: BTreeMap<String, StoredAlert>,
    /// Active and future silences.
    pub silences: Vec<Silence>,
    /// Maintenance windows made through the API that are not over.
    pub maintenance: Vec<Window>,
    /// The `[[maintenance]]` windows of scheduler.toml (kept across a
    /// resync: the store does not hold them).
    pub config_windows: Vec<Window>,
    /// The newest SLO status per scenario with an objective.
    pub slo: BTreeMap<String, SloStatus>,
    /// The newest latency anomaly verdict per (scenario, region) with
    /// `[alert] anomaly`; `None` while the history is too short to judge.
    /// A scenario with none measured yet keeps its anomaly alerts as
    /// they are (after a restart, until the first measurement).
    pub anomaly: BTreeMap<(String, String), Option<Verdict>>,
    /// Scenarios with an SLO that got results since it was computed.
    pub slo_dirty: BTreeSet<String>,
    /// Open alerts suppressed by a parent in `depends_on`, by alert id.
    /// Like `recheck`, derived from the timelines on load, so that a
    /// restart neither records them twice nor sends one early.
    pub suppressed: BTreeSet<String>,
    /// Alerts no longer suppressed, by id, with when (Unix ms): sent once
    /// a run of their own started since then fails too.
    pub recheck: BTreeMap<String, i64>,
    /// Confirmation runs asked for: request → (alert row, asked at ms).
    pub confirms: BTreeMap<Uuid, (i64, i64)>,
    /// The newest event id written (committed or about to be).
    pub last_event: i64,
}

/// The alert engine.
#[derive(Debug)]
pub struct Engine {
    state: Mutex<State>,
    started: DateTime<Utc>,
    base_url: String,
    events: watch::Sender<i64>,
}

/// A store job's view of the engine's state: the store's transaction, the
/// time and the runs to ask for after the commit.
pub(super) struct Tx<'a> {
    pub store: &'a dyn StoreTx,
    pub now: DateTime<Utc>,
    pub effects: Effects,
}

impl Tx<'_> {
    pub fn now_ms(&self) -> i64 {
        self.now.timestamp_millis()
    }

    pub fn timeline(&self, row: i64, kind: &str, detail: Option<&str>) -> Result<(), StoreError> {
        self.store.add_timeline(row, self.now_ms(), kind, detail)
    }
}

impl Engine {
    /// The engine as the store remembers it: region states, firing alerts
    /// (which are not emitted again) and silences.
    ///
    /// # Errors
    /// Store errors.
    pub async fn load(
        store: &Store,
        clock: &Arc<dyn Clock>,
        base_url: String,
        config_windows: Vec<Window>,
    ) -> Result<Engine, StoreError> {
        let now = clock.now();
        let mut state = load_state(store, now).await?;
        state.config_windows = config_windows;
        tracing::info!(
            firing = state.open.len(),
            regions = state.health.len(),
            "Alert state restored."
        );
        Ok(Engine {
            events: watch::channel(state.last_event).0,
            state: Mutex::new(state),
            started: now,
            base_url,
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// When this engine started (the probe-alert grace period runs from it).
    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    /// `http://listen` (or the public URL): the base of alert links.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Changes to the id of the newest committed alert event: notifiers
    /// wait on it instead of polling.
    pub fn subscribe_events(&self) -> watch::Receiver<i64> {
        self.events.subscribe()
    }

    /// After a commit: publishes the newest event id; says whether it grew.
    pub(crate) fn published(&self) -> bool {
        let last = self.lock().last_event;
        self.events.send_if_modified(|v| {
            let newer = last > *v;
            if newer {
                *v = last;
            }
            newer
        })
    }

    /// After a failed store job: memory may be ahead of the store; reload.
    pub(crate) async fn resync(&self, store: &Store, now: DateTime<Utc>) {
        match self.reload(store, now).await {
            Ok(()) => tracing::warn!("Alert state reloaded from the store after a failed write."),
            Err(e) => tracing::error!(error = %e, "Reloading the alert state failed."),
        }
    }

    /// Replaces the state held in memory with the stored one: after a
    /// failed write, when this replica becomes the leader, and on a
    /// replica that does not lead, so its API and page show what the
    /// leader decided.
    ///
    /// # Errors
    /// Store errors; the state in memory is then unchanged.
    pub(crate) async fn reload(&self, store: &Store, now: DateTime<Utc>) -> Result<(), StoreError> {
        let fresh = load_state(store, now).await?;
        let mut st = self.lock();
        let slo = std::mem::take(&mut st.slo);
        let anomaly = std::mem::take(&mut st.anomaly);
        let config_windows = std::mem::take(&mut st.config_windows);
        *st = fresh;
        st.slo = slo;
        st.anomaly = anomaly;
        st.config_windows = config_windows;
        Ok(())
    }

    /// Counts new results (in `started_at` order; older than a region's
    /// newest are ignored), records confirmation runs, and updates alerts.
    pub fn apply_results(
        &self,
        store: &dyn StoreTx,
        world: &World,
        results: &[&RunResult],
    ) -> Result<Effects, StoreError> {
        let mut st = self.lock();
        let mut tx = Tx {
            store,
            now: world.now,
            effects: Vec::new(),
        };
        let mut sorted = results.to_vec();
        sorted.sort_by_key(|r| (r.started_at, r.id));
        let mut touched = BTreeSet::new();
        let mut confirmed = BTreeSet::new();
        for r in sorted {
            let Some(s) = world.catalog.get(&r.scenario) else {
                continue;
            };
            if let Some(request) = r.run_request
                && record_confirmation(&mut st, &tx, r, request)?
            {
                // The alert it confirms may be waiting for it.
                confirmed.insert(r.scenario.clone());
            }
            let policy = &s.scenario.alert;
            // A failure a retry will follow is stored but not counted: only
            // an attempt's last result counts for alerting.
            if policy
                .retry
                .is_some_and(|retry| !r.outcome.is_success() && retry.will_retry(r.attempt))
            {
                continue;
            }
            let key = (r.scenario.clone(), r.region.clone());
            let h = st.health.entry(key.clone()).or_default();
            if h.observe_result(r, policy.after, policy.recover_after) != Observed::Stale {
                touched.insert(key);
            }
            if policy.slo.is_some() {
                st.slo_dirty.insert(r.scenario.clone());
            }
        }
        let mut scenarios = confirmed;
        let changed: BTreeSet<String> = touched.iter().map(|(s, _)| s.clone()).collect();
        scenarios.extend(super::depends::related(world, &changed));
        for key in touched {
            if let Some(objective) = world
                .catalog
                .get(&key.0)
                .and_then(|s| s.scenario.alert.latency.clone())
                && let Some(h) = st.health.get_mut(&key)
            {
                let (value, missed) =
                    latency::measure(tx.store, &key.0, &key.1, &objective, tx.now_ms())?;
                h.latency_ms = value;
                h.degraded = missed;
            }
            if let Some(h) = st.health.get(&key) {
                tx.store.save_health(&key.0, &key.1, h, tx.now_ms())?;
            }
            scenarios.insert(key.0);
        }
        for name in scenarios {
            if let Some(s) = world.catalog.get(&name) {
                self.reconcile_scenario(&mut st, &mut tx, world, s)?;
            }
        }
        Ok(tx.effects)
    }

    /// Re-evaluates everything: probes and regions, every scenario, alerts
    /// of scenarios that are gone, silences that began or ended.
    pub fn tick(&self, store: &dyn StoreTx, world: &World) -> Result<Effects, StoreError> {
        let mut st = self.lock();
        let mut tx = Tx {
            store,
            now: world.now,
            effects: Vec::new(),
        };
        let now = world.now;
        st.silences.retain(|s| s.ends_at > now);
        st.maintenance.retain(|w| !w.is_over(now));
        let ttl = crate::clock::millis(super::hold::RUN_REQUEST_TTL);
        let waiting = st.confirms.len();
        st.confirms
            .retain(|_, (_, at)| tx.now_ms().saturating_sub(*at) < ttl);
        if st.confirms.len() < waiting {
            // The fleet has dropped them too: a restart must not re-queue
            // them. Expired is at least `ttl` old, hence the + 1.
            let cutoff = tx.now_ms().saturating_sub(ttl).saturating_add(1);
            tx.store.delete_confirm_requests_before(cutoff)?;
        }
        st.slo.retain(|name, _| {
            world
                .catalog
                .get(name)
                .is_some_and(|s| s.scenario.alert.slo.is_some())
        });
        st.anomaly.retain(|(name, _), _| {
            world
                .catalog
                .get(name)
                .is_some_and(|s| s.scenario.alert.anomaly.is_some())
        });
        self.reconcile_probes(&mut st, &mut tx, world)?;
        for s in world.catalog.scenarios.values() {
            self.reconcile_scenario(&mut st, &mut tx, world, s)?;
        }
        self.resolve_orphans(&mut st, &mut tx, world)?;
        Ok(tx.effects)
    }

    /// Sets latency measurements, SLO statuses and anomaly verdicts
    /// computed off the writer, then re-evaluates the scenarios they
    /// belong to.
    pub fn apply_measurements(
        &self,
        store: &dyn StoreTx,
        world: &World,
        latency: Vec<((String, String), Option<f64>, bool)>,
        slo: Vec<(String, SloStatus)>,
        anomaly: Vec<((String, String), Option<Verdict>)>,
    ) -> Result<Effects, StoreError> {
        let mut st = self.lock();
        let mut tx = Tx {
            store,
            now: world.now,
            effects: Vec::new(),
        };
        let mut scenarios = BTreeSet::new();
        for (key, value, missed) in latency {
            let Some(h) = st.health.get_mut(&key) else {
                continue;
            };
            let changed = h.degraded != missed;
            h.latency_ms = value;
            h.degraded = missed;
            if changed {
                tx.store.save_health(&key.0, &key.1, h, tx.now_ms())?;
                scenarios.insert(key.0);
            }
        }
        for (name, status) in slo {
            st.slo.insert(name.clone(), status);
            scenarios.insert(name);
        }
        for (key, verdict) in anomaly {
            let firing =
                |v: Option<&Option<Verdict>>| v.and_then(Option::as_ref).is_some_and(|v| v.firing);
            if firing(st.anomaly.get(&key)) != firing(Some(&verdict))
                || !st.anomaly.contains_key(&key)
            {
                scenarios.insert(key.0.clone());
            }
            st.anomaly.insert(key, verdict);
        }
        let related = super::depends::related(world, &scenarios);
        scenarios.extend(related);
        for name in scenarios {
            if let Some(s) = world.catalog.get(&name) {
                self.reconcile_scenario(&mut st, &mut tx, world, s)?;
            }
        }
        Ok(tx.effects)
    }

    /// Stores a new or changed silence and re-evaluates what it mutes.
    pub fn put_silence(
        &self,
        store: &dyn StoreTx,
        world: &World,
        silence: Silence,
    ) -> Result<Effects, StoreError> {
        store.save_silence(&silence)?;
        {
            let mut st = self.lock();
            st.silences.retain(|s| s.id != silence.id);
            st.silences.push(silence);
        }
        self.tick(store, world)
    }

    /// Stores a maintenance window made through the API and re-evaluates
    /// what it covers.
    pub fn put_window(
        &self,
        store: &dyn StoreTx,
        world: &World,
        window: Window,
    ) -> Result<Effects, StoreError> {
        store.save_window(&window)?;
        {
            let mut st = self.lock();
            st.maintenance.retain(|w| w.id != window.id);
            st.maintenance.push(window);
        }
        self.tick(store, world)
    }

    /// Deletes the API's maintenance window `id` and re-evaluates; false
    /// when there is none.
    pub fn delete_window(
        &self,
        store: &dyn StoreTx,
        world: &World,
        id: &str,
    ) -> Result<(bool, Effects), StoreError> {
        if !store.delete_window(id)? {
            return Ok((false, Vec::new()));
        }
        self.lock().maintenance.retain(|w| w.id != id);
        Ok((true, self.tick(store, world)?))
    }

    /// Every maintenance window: the config's, then the API's.
    pub fn windows(&self) -> Vec<Window> {
        let st = self.lock();
        st.config_windows
            .iter()
            .chain(&st.maintenance)
            .cloned()
            .collect()
    }

    /// Whether a run of `scenario` (with `labels`) in `region` that started
    /// at `started_at` falls in a window that keeps it out of the SLO.
    pub fn excluded_from_slo(
        &self,
        scenario: &str,
        region: &str,
        labels: &BTreeMap<String, String>,
        started_at: DateTime<Utc>,
    ) -> bool {
        self.lock()
            .windows_over(scenario, region, labels, started_at)
            .any(|w| w.exclude_from_slo)
    }

    /// Writes `event` to the outbox.
    pub(super) fn emit(
        st: &mut State,
        tx: &Tx<'_>,
        status: AlertStatus,
        alert: &Alert,
        muted: bool,
    ) -> Result<(), StoreError> {
        let event = AlertEvent {
            status,
            alert: alert.clone(),
            muted,
        };
        st.last_event = tx.store.insert_event(&event, tx.now_ms())?;
        Ok(())
    }

    /// Whether an active silence or an open maintenance window matches
    /// `alert`.
    pub(super) fn is_muted(st: &State, alert: &Alert, now: DateTime<Utc>) -> bool {
        Self::mute_reason(st, alert, now).is_some()
    }

    /// Why `alert` is muted now, for its timeline: the open maintenance
    /// window by name, else a silence.
    pub(super) fn mute_reason(st: &State, alert: &Alert, now: DateTime<Utc>) -> Option<String> {
        if let Some(w) = windows_of(st).find(|w| {
            w.open_at(now).is_some()
                && w.covers(alert.scenario.as_deref(), &alert.regions, &alert.labels)
        }) {
            return Some(format!(
                "{}; events are recorded, not sent",
                w.describe(now)
            ));
        }
        st.silences
            .iter()
            .any(|s| s.mutes(alert, now))
            .then(|| "a silence matches; events are recorded, not sent".to_owned())
    }

    /// What `scenario` shows in `region` now.
    pub fn region_state(
        &self,
        scenario: &str,
        region: &str,
        live: bool,
        labels: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> (RegionState, Option<bool>) {
        let st = self.lock();
        let key = (scenario.to_owned(), region.to_owned());
        let h = st.health.get(&key).cloned().unwrap_or_default();
        let regions = [region.to_owned()];
        let muted = st
            .silences
            .iter()
            .any(|s| s.is_active(now) && s.covers(Some(scenario), &regions, labels));
        let maintenance = st
            .windows_over(scenario, region, labels, now)
            .next()
            .is_some();
        let (state, up) = region_state(&h, live, muted);
        if maintenance && state != RegionState::Unknown {
            return (RegionState::Maintenance, up);
        }
        (state, up)
    }

    /// Firing alerts of `scenario`.
    pub fn open_for(&self, scenario: &str) -> Vec<Alert> {
        self.lock()
            .open
            .values()
            .filter(|a| a.alert.scenario.as_deref() == Some(scenario))
            .map(|a| a.alert.clone())
            .collect()
    }

    /// Every firing alert with its flags.
    pub fn open(&self) -> Vec<StoredAlert> {
        self.lock().open.values().cloned().collect()
    }

    /// The newest computed SLO status of `scenario`.
    pub fn slo(&self, scenario: &str) -> Option<SloStatus> {
        self.lock().slo.get(scenario).cloned()
    }

    /// The newest anomaly verdict of `scenario` in `region`, if judged.
    pub fn anomaly(&self, scenario: &str, region: &str) -> Option<Verdict> {
        self.lock()
            .anomaly
            .get(&(scenario.to_string(), region.to_string()))
            .cloned()
            .flatten()
    }

    /// When the open anomaly alert of `scenario` in `region` started (Unix
    /// ms), if one is open: its baseline ends there.
    pub fn anomaly_firing_since(&self, scenario: &str, region: &str) -> Option<i64> {
        self.lock()
            .open
            .get(&super::desired::anomaly_alert_id(scenario, region))
            .map(|a| a.alert.started_at.timestamp_millis())
    }

    /// Scenarios whose SLO got results since it was last computed.
    pub(crate) fn take_slo_dirty(&self) -> BTreeSet<String> {
        std::mem::take(&mut self.lock().slo_dirty)
    }

    /// Active and future silences.
    pub fn silences(&self) -> Vec<Silence> {
        self.lock().silences.clone()
    }
}

/// The displayed state and, unless unknown, whether it counts as up.
pub fn region_state(h: &RegionHealth, live: bool, muted: bool) -> (RegionState, Option<bool>) {
    use super::state::Health;
    let up = match h.health {
        Health::NoData => None,
        Health::Up => Some(true),
        Health::Down => Some(false),
    };
    if !live || up.is_none() {
        return (RegionState::Unknown, None);
    }
    let state = if muted {
        RegionState::Muted
    } else if up == Some(false) {
        RegionState::Down
    } else if h.degraded {
        RegionState::Degraded
    } else {
        RegionState::Up
    };
    (state, up)
}

impl State {
    /// Whether a maintenance window is open for `s` in `region` at `now`.
    pub fn in_maintenance(&self, s: &CatalogScenario, region: &str, now: DateTime<Utc>) -> bool {
        self.windows_over(&s.name, region, &s.scenario.labels, now)
            .next()
            .is_some()
    }

    /// The maintenance windows open at `at` for `scenario` (with `labels`)
    /// in `region`.
    fn windows_over<'a>(
        &'a self,
        scenario: &'a str,
        region: &str,
        labels: &'a BTreeMap<String, String>,
        at: DateTime<Utc>,
    ) -> impl Iterator<Item = &'a Window> {
        let regions = [region.to_owned()];
        windows_of(self)
            .filter(move |w| w.open_at(at).is_some() && w.covers(Some(scenario), &regions, labels))
    }
}

/// The config's maintenance windows, then the API's.
fn windows_of(st: &State) -> impl Iterator<Item = &Window> {
    st.config_windows.iter().chain(&st.maintenance)
}

/// Records a confirmation run's result on the alert that asked for it;
/// false when no alert waits for `request`.
fn record_confirmation(
    st: &mut State,
    tx: &Tx<'_>,
    result: &RunResult,
    request: Uuid,
) -> Result<bool, StoreError> {
    let Some((row, _)) = st.confirms.remove(&request) else {
        return Ok(false);
    };
    tx.store.delete_confirm_request(request)?;
    let up = result.outcome == scenarios::wire::Outcome::Success;
    let confirmation = Confirmation {
        region: result.region.clone(),
        outcome: result.outcome,
    };
    let detail = if up {
        format!("up from {}: the failure looks regional", result.region)
    } else {
        let failure = super::state::Failure::of(result);
        format!(
            "also failing from {}: {}",
            result.region,
            failure.describe()
        )
    };
    // Of several regions' answers the alert shows one that is up, if any:
    // "down here, up there" is what tells on-call the failure is regional.
    let keep = |old: &Option<Confirmation>| {
        old.as_ref()
            .is_none_or(|c| up && c.outcome != scenarios::wire::Outcome::Success)
    };
    if let Some(open) = st.open.values_mut().find(|a| a.row == row) {
        if keep(&open.alert.confirmation) {
            open.alert.confirmation = Some(confirmation);
            tx.store.update_alert(open)?;
        }
    } else if let Some(mut stored) = tx.store.alert_by_row(row)?
        && keep(&stored.alert.confirmation)
    {
        stored.alert.confirmation = Some(confirmation);
        tx.store.update_alert(&stored)?;
    }
    tx.timeline(row, "confirmed", Some(&detail))?;
    Ok(true)
}

async fn load_state(store: &Store, now: DateTime<Utc>) -> Result<State, StoreError> {
    let now_ms = now.timestamp_millis();
    store
        .read(move |tx| {
            let health = tx
                .load_health()?
                .into_iter()
                .map(|(s, r, h)| ((s, r), h))
                .collect();
            let open: BTreeMap<String, StoredAlert> = tx
                .open_alerts()?
                .into_iter()
                .map(|a| (a.alert.id.clone(), a))
                .collect();
            // Where each never-sent alert stands with its parents, as its
            // timeline last recorded it.
            let mut suppressed = BTreeSet::new();
            let mut recheck = BTreeMap::new();
            for a in open.values().filter(|a| !a.notified) {
                let timeline = tx.timeline_of(a.row)?;
                match super::stored::last_suppression(&timeline) {
                    Some(e) if e.kind == "suppressed" => {
                        suppressed.insert(a.alert.id.clone());
                    }
                    Some(e) => {
                        recheck.insert(a.alert.id.clone(), e.at.timestamp_millis());
                    }
                    None => {}
                }
            }
            // Every request still out (answered and expired ones are
            // deleted), so the alert waits for the same answers as before.
            let confirms = tx
                .confirm_requests()?
                .into_iter()
                .map(|c| {
                    let at = c.request.requested_at.timestamp_millis();
                    (c.request.id, (c.alert_row, at))
                })
                .collect();
            Ok(State {
                health,
                open,
                suppressed,
                recheck,
                silences: tx.silences_ending_after(now_ms)?,
                maintenance: tx
                    .windows()?
                    .into_iter()
                    .filter(|w| !w.is_over(now))
                    .collect(),
                confirms,
                last_event: tx.last_event_id()?,
                ..State::default()
            })
        })
        .await
}
