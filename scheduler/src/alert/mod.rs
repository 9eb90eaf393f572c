//! Alerting: per scenario × region state from stored results, scopes
//! (regional, global, probe, latency, SLO), confirmation runs, silences,
//! and the notifiers that deliver each change of state.

pub mod model;
pub mod notify;

pub use model::{Alert, AlertEvent, AlertStatus, Confirmation, Scope};
