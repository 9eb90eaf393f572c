//! Traces of runs over OTLP/HTTP (protobuf), so a failed run can be seen
//! in a tracing backend beside the target's own server spans: the trace id
//! is the run's `trace_id`, and each request's `traceparent` names its
//! client span as the parent.
//!
//! - `args`: `--otlp-endpoint`, `--otlp-header`, `--otlp-sample-success`.
//! - `spans`: a finished run (its result and recorded timings) as spans.
//! - `export`: the bounded queue and the task that posts it, with the
//!   counts of spans exported and dropped.

mod args;
mod export;
mod spans;

pub use args::{OtlpArgs, OtlpHeader};
pub use export::{ExportConfig, SpanCounts, TraceExport};
pub use spans::SERVICE_NAME;
