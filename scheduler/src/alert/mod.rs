//! The alert engine: per scenario × region state from stored results,
//! scopes (regional, global, probe, latency, SLO), confirmation runs and
//! silences, and the notifiers that deliver each change of state. It
//! knows neither HTTP nor the running scheduler nor SQL: it works inside
//! a store job on the storage interface (`crate::store::Tx`), and
//! `crate::evaluate` runs it.
//!
//! - [`model`]: what an alert is ([`Alert`], [`AlertEvent`]); `stored`:
//!   how the engine has handled it ([`StoredAlert`], [`TimelineEntry`]).
//! - `state`: the up/down state machine, `recent`: the runs it counts in; [`slo`]: budget and burn-rate
//!   math; `latency`: the latency objective; [`anomaly`]: latency against
//!   its own baseline; `measure`: SLO statuses and anomaly verdicts over
//!   stored runs; `silence`: silences.
//! - `engine`, `reconcile`, `desired`, `hold`, `depends`: the engine,
//!   which turns states into alerts (`reconcile` decides regional, global,
//!   probe and region alerts; `hold` holds a regional alert for its
//!   confirmations, an SLO alert while a region is failing but not down
//!   yet; `depends` suppresses the alerts of a scenario whose parent in
//!   `depends_on` is down).
//! - `world`: what the engine decides on besides results.
//! - [`notify`]: the notifiers.
//!
//! # The outbox contract (engine → notifiers)
//!
//! Every [`AlertEvent`] (firing or resolved) is a row of the outbox
//! (`crate::store::Outbox`), written in the same transaction as the
//! alert's change of state, so a crash or restart never loses a page nor
//! emits one twice. Ids grow in commit order. Notifiers:
//! - read with `events_after(cursor, limit)` from a cursor they keep
//!   durably in their own tables (`crate::store::NotifyQueue`), and
//!   advance it only after handling an event;
//! - skip events with `muted = true` (a silence matched; recorded, not
//!   sent) but move the cursor past them;
//! - are woken through `App::notifications` (`Dispatcher::wake`) after
//!   every commit that wrote events, or wait on [`Engine::subscribe_events`]
//!   (the newest committed event id), rather than only polling;
//! - for periodic re-sends (Alertmanager) list the firing alerts with
//!   `firing_alerts()`;
//! - never write the outbox; a notifier added to the config may start at
//!   `last_event_id()`.
//!
//! An alert's `id` is stable for its life (`checkout/region/eu-west-1`,
//! `checkout/global`, `probe/p-eu-1`, `region/eu-west-1`,
//! `checkout/latency`, `checkout/slo/page`, `checkout/slo/ticket`,
//! `checkout/anomaly/eu-west-1`) and is
//! reused by the next incident of the same kind once the last resolved.
//! A regional alert grouped under its global alert emits nothing; when
//! the global alert resolves while the region is still down, its firing
//! event follows. Likewise an SLO alert grouped under its scenario's
//! regional or global alert (which carries the burn): when they resolve
//! while the burn goes on, the SLO alert's firing event follows. A
//! resolve is emitted only for an alert whose firing was.
//!
//! A suppressed alert (its scenario's parent in `depends_on` is down
//! where it is) emits nothing either, not even a muted event: it was
//! never sent, so receivers have nothing to hear, and notifiers skip no
//! event for it. Its row carries a `suppressed` timeline entry. When it
//! stops being suppressed while still down, its firing event follows
//! once a run of its own since then failed too, like a held alert's. The parent's events list it in
//! `Alert::dependents`; a firing event is emitted again when that list
//! grows while the parent's alert is sent (like a spread).

pub mod anomaly;
mod depends;
mod desired;
mod engine;
mod hold;
pub mod latency;
mod measure;
pub mod model;
pub mod notify;
mod recent;
mod reconcile;
mod silence;
pub mod slo;
mod state;
mod stored;
mod world;

pub use engine::{Effects, Engine, RECENT_SILENCES, region_state};
pub use hold::RUN_REQUEST_TTL;
pub use measure::{anomaly_at, slo_status_at};
pub use model::{Alert, AlertEvent, AlertStatus, Confirmation, Scope};
pub use recent::RecentRuns;
pub use reconcile::{clock_alert_id, spool_alert_id};
pub use silence::{NewSilence, Silence};
pub use slo::SloStatus;
pub use state::{Failure, Health, RegionHealth, RegionState};
pub use stored::{StoredAlert, TimelineEntry, suppressed_now};
pub use world::{ProbeClock, ProbeSpool, ProbeView, World, trace_link};
