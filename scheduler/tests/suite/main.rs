//! The scheduler's integration tests, one module per concern, linked into
//! one test binary: each binary links the whole dependency tree, so one per
//! concern cost minutes of linking and gigabytes of disk.
//!
//! Run one concern with a filter: `cargo test -p sonde-scheduler --test
//! suite alert_confirm::`.

#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests stamp real times; the injected clock is for the code under test"
)]
#![allow(clippy::unwrap_used)]

// Shared set-up.
mod alert_kit;
mod common;
mod notify_support;
mod postgres_kit;
mod store_kit;

mod alert_anomaly;
mod alert_confirm;
mod alert_confirm_restart;
mod alert_depends;
mod alert_maintenance;
mod alert_n_of_m;
mod alert_report;
mod alert_restart;
mod alert_retention;
mod alert_retry;
mod alert_run_now;
mod alert_scopes;
mod alert_silences;
mod alert_slo;
mod alert_states;
mod audit;
mod binary;
mod capabilities;
mod catalog_depends;
mod catalog_large;
mod clock_skew;
mod disk_full;
mod failover;
mod hot_reload;
mod ingest_durable;
mod metrics;
mod metrics_exemplars;
mod notify_alertmanager;
mod notify_app;
mod notify_config;
mod notify_heartbeat;
mod notify_pagerduty;
mod notify_restart;
mod notify_rules;
mod notify_slack;
mod notify_trial;
mod notify_watchdog;
mod notify_webhook;
mod probe_protocol;
mod read_access;
mod read_api;
mod replicas;
mod security;
mod store;
mod store_migrate;
mod store_postgres;
mod test_runs;
mod uptime_report;
