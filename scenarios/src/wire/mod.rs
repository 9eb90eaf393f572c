//! The JSON that probes and the scheduler exchange: the [`Plan`] a probe
//! follows (`GET /api/v1/plan`), the [`RunResult`] it reports (also what
//! `probe run --format json` prints), and the ingest batch around results
//! (`POST /api/v1/results`).
//!
//! These are plain serde types shared by both sides. Unlike scenario files,
//! they ignore unknown fields: a newer scheduler may add a field to the plan,
//! or a newer probe to its results, without breaking the older peer.
//! Removing or renaming a field, or adding a value to one of the enums, is a
//! protocol change: upgrade the scheduler first. Optional values are written
//! as `null`, never omitted, so every result has the same shape.
//!
//! - `capability`: what a probe announces it can run ([`Capabilities`],
//!   `X-Sonde-Capabilities`) and what a scenario needs.
//! - `run_result`: [`RunResult`] and its [`Outcome`].
//! - `step`: [`StepResult`] and what a step reports (phases, HTTP, TLS, DNS,
//!   assertions).
//! - `evidence`: [`Evidence`] a failed step leaves, its [`Screenshot`].
//! - `error`: [`StepError`] and its bounded [`ErrorKind`].
//! - `redact`: [`redact`] secret values, [`truncate_actual`].
//! - `plan`: [`Plan`], [`PlannedScenario`], on-demand [`RunRequest`]s.
//! - `ingest`: [`ResultBatch`] and the scheduler's [`IngestAck`], with
//!   each rejection's [`RejectReason`].
//! - `version`: [`scenario_version`], the `sha256:` of a scenario.
//! - [`time`]: times as RFC 3339 UTC with milliseconds (a serde `with` module).

mod capability;
mod encoded;
mod error;
mod evidence;
mod ingest;
mod plan;
mod redact;
mod run_result;
mod step;
pub mod time;
mod version;

pub use capability::{CAPABILITIES_HEADER, Capabilities, Capability};
pub use error::{ErrorKind, StepError};
pub use evidence::{EVIDENCE_BODY_BYTES, Evidence, Screenshot};
pub use ingest::{IngestAck, RejectReason, Rejected, ResultBatch};
pub use plan::{Plan, PlannedScenario, RunReason, RunRequest};
pub use redact::{ACTUAL_MAX_CHARS, REDACTED, redact, truncate_actual};
pub use run_result::{Outcome, RunResult};
pub use step::{
    ActionTiming, AssertionResult, BrowserInfo, DnsInfo, HttpInfo, Phases, StepKind, StepResult,
    StepStatus, TlsInfo,
};
pub use version::scenario_version;
