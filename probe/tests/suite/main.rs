//! The probe's integration tests, one module per concern, linked into one
//! test binary: each binary links the whole dependency tree, so one per
//! concern cost minutes of linking and gigabytes of disk.
//!
//! Run one concern with a filter: `cargo test -p sonde-probe --test suite
//! net_tls::`.

#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests stamp real times; the injected clock is for the code under test"
)]

// Shared set-up.
mod agent_support;
mod common;
mod net_kit;

mod agent_capabilities;
mod agent_deliver;
mod agent_disk_full;
mod agent_e2e;
mod agent_failover;
mod agent_plan;
mod agent_retry;
mod agent_schedule;
mod agent_shutdown;
mod agent_spool;
mod browser_step;
mod ci_formats;
mod cli;
mod evidence;
mod grpc_step;
mod icmp_datagram;
mod icmp_step;
mod import_hurl;
mod import_shop;
mod net_dns;
mod net_guard;
mod net_http;
mod net_tls;
mod otlp;
mod recorded_request;
mod run_journeys;
mod security;
mod timing_model;
mod websocket_step;
