//! The scenario language's integration tests, one module per concern,
//! linked into one test binary: each binary links the whole dependency
//! tree, so one per concern cost link time and disk.
//!
//! Run one concern with a filter: `cargo test -p sonde-scenarios --test
//! suite model::`. The data stay beside this folder, in `tests/invalid/`
//! and `tests/golden/`.

#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests stamp real times; the injected clock is for the code under test"
)]

mod examples;
mod invalid;
mod model;
mod never_panics;
mod wire_golden;
