//! The scenario language's integration tests, one module per concern,
//! linked into one test binary: each binary links the whole dependency
//! tree, so one per concern cost link time and disk.
//!
//! Run one concern with a filter: `cargo test -p sonde-scenarios --test
//! suite model::`. The data stay beside this folder, in `tests/invalid/`
//! and `tests/golden/`.

mod examples;
mod invalid;
mod model;
mod never_panics;
mod wire_golden;
