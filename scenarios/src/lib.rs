//! Sonde's scenario language and the wire types that probes and the
//! scheduler exchange. No async runtime and no HTTP stack live here, so the
//! language can be checked anywhere (editor, CI, `probe validate`).
//!
//! Module map:
//! - [`load`]: read a scenario file (limits, TOML, serde raw layer) and
//!   validate it into a [`Scenario`] or a list of [`Diagnostic`]s.
//! - `raw`: serde structs that mirror the TOML, unknown fields denied.
//! - `validate`: raw → model, collecting every error in one pass.
//! - [`model`]: the validated scenario: steps, assertions, schedule, alerts.
//! - [`expr`]: the `expect` / `capture` expression language and its evaluation.
//! - [`template`]: `{{name}}` templates and their rendering.
//! - [`duration`]: the language's durations (`800ms`, `1.5s`, `30d`).
//! - [`depends`]: `depends_on` across files: unknown names, cycles.
//! - [`threshold`]: `after` / `recover_after`: `3` in a row or `"3 of 5"`.
//! - [`diagnostic`]: one error shape, rendered rustc-style.
//! - [`wire`]: `RunResult` and `Plan`, the JSON exchanged on the wire.

pub mod depends;
pub mod diagnostic;
pub mod duration;
pub mod expr;
pub mod load;
pub mod model;
mod raw;
mod source_map;
mod suggest;
pub mod template;
pub mod threshold;
mod validate;
pub mod wire;

pub use diagnostic::Diagnostic;
pub use load::{
    Invalid, LoadError, ScenarioFile, load_dir, load_file, load_file_as, parse_scenario,
};
pub use model::Scenario;
