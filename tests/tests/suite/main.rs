//! The end-to-end suites and the test kit's own tests, one module per
//! concern, linked into one test binary: each binary links the whole
//! dependency tree, so one per concern cost minutes of linking and
//! gigabytes of disk.
//!
//! Run one concern with a filter: `cargo test -p sonde-tests --test suite
//! deploy::`.

#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests stamp real times; the injected clock is for the code under test"
)]
#![allow(clippy::unwrap_used)]

// Shared set-up.
mod one_fleet;

mod alerting;
mod demo_shop;
mod demo_shop_process;
mod depends;
mod deploy;
mod disk_full;
mod dns;
mod evidence;
mod exemplars;
mod failover;
mod fleet;
mod fleet_ha;
mod fleet_run;
mod ha;
mod maintenance;
mod recorded_request;
mod run_now;
mod secrets_never_leave;
mod status_page;
mod target;
mod tls;
mod traces;
