//! What a run's trace needs beyond its result: when each step and each
//! request began and ended, and the span id each request sent in its
//! `traceparent`. Recorded as the run goes, turned into spans only when an
//! exporter wants them.

use tokio::time::Instant;

use crate::net::PhaseTimings;

/// The timings and span ids of one run, on the run's monotonic clock.
/// Without an exporter nothing is kept: a run then pays nothing for them.
#[derive(Debug, Default)]
pub struct RunSpans {
    /// Whether an exporter will want them.
    pub recording: bool,
    /// By step index; `None` for a step that never ran.
    pub steps: Vec<Option<Timed>>,
    /// Every request sent, redirects included, in order.
    pub requests: Vec<RequestSpan>,
}

/// When something began and ended.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub start: Instant,
    pub end: Instant,
}

/// One HTTP request (one hop of a step), as its client span shows it.
#[derive(Debug, Clone)]
pub struct RequestSpan {
    /// Index of the step that sent it.
    pub step: usize,
    /// The span id sent in its `traceparent`.
    pub span_id: [u8; 8],
    pub timed: Timed,
    pub method: String,
    /// As the result records it: rendered with every secret as `***`.
    pub url: String,
    pub host: String,
    pub port: Option<u16>,
    /// `None` when no response came.
    pub status: Option<u16>,
    pub phases: PhaseTimings,
    /// Why no response came, when none did (redacted before export).
    pub error: Option<String>,
}

impl RunSpans {
    /// Spans of a run that are kept only when `recording`.
    pub fn new(recording: bool) -> Self {
        Self {
            recording,
            ..Self::default()
        }
    }

    /// Notes that step `index` ran from `start` until now.
    pub fn step_ran(&mut self, index: usize, start: Instant) {
        if !self.recording {
            return;
        }
        if self.steps.len() <= index {
            self.steps.resize(index + 1, None);
        }
        self.steps[index] = Some(Timed {
            start,
            end: Instant::now(),
        });
    }

    /// Notes a request, made by `span` only when an exporter wants it.
    pub fn request(&mut self, span: impl FnOnce() -> RequestSpan) {
        if self.recording {
            self.requests.push(span());
        }
    }
}
