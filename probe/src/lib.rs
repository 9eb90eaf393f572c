//! The probe: runs scenarios and measures every phase of every request.
//!
//! Module map:
//! - [`agent`]: `probe agent`, following the scheduler's plan: timer,
//!   durable result spool, delivery, `/metrics`.
//! - [`browser`]: the headless Chromium of `browser` steps, one per
//!   probe, a context per run.
//! - `bench`: `probe bench`, in-process throughput for `bench/`.
//! - `cli`: the `probe` command line (`run`, `validate`, `bench`, …).
//! - `fleet_run`: `probe run --fleet`, a scenario file run once from every
//!   region through the scheduler.
//! - [`net`]: DNS, TCP, TLS and HTTP at the connection level, each phase
//!   timed on its own, with deadlines in every phase and the target guard.
//! - [`run`]: executes a validated scenario once into a `RunResult`:
//!   templates, secrets, cookies, redirects, assertions, captures.
//! - [`otlp`]: each run's trace, exported over OTLP/HTTP.
//! - `secrets`: `SONDE_SECRET_*` and the secrets directory.
//! - `report`: the human-readable per-step report of `probe run`.

pub mod agent;
pub mod bench;
pub mod browser;
pub mod cli;
pub mod fleet_run;
pub mod import;
pub mod net;
pub mod otlp;
pub mod report;
pub mod run;
pub mod secrets;
