//! The exporter: runs hand their spans to a bounded queue and go on; one
//! background task posts them to the collector. A full queue, a failed
//! post or a collector that does not answer in time drops spans and counts
//! them; a run never waits for any of it.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prometheus_client::metrics::counter::Counter;
use prost::Message;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use scenarios::wire::RunResult;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use url::Url;

use super::spans;
use crate::run::RunSpans;

/// Runs' traces waiting to be posted; past this, new ones are dropped.
const QUEUE_TRACES: usize = 1024;
/// Most spans in one export request.
const BATCH_SPANS: usize = 512;
/// A post that takes longer is given up and its spans counted dropped.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and what to export.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// The full `/v1/traces` URL.
    pub url: Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Share of passing runs exported (failed ones always are).
    pub sample_success: f64,
}

/// Spans the collector accepted, and spans given up on (queue full, post
/// failed or timed out, left at exit). The agent exposes both.
#[derive(Debug, Clone, Default)]
pub struct SpanCounts {
    pub exported: Counter,
    pub dropped: Counter,
}

/// The handle runs submit their traces to.
#[derive(Debug)]
pub struct TraceExport {
    queue: mpsc::Sender<Vec<Span>>,
    /// Spans queued or being posted, so `flush` knows when it is done.
    pending: watch::Sender<u64>,
    counts: SpanCounts,
    sample_success: f64,
}

impl TraceExport {
    /// Starts the background task on the current runtime.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn start(config: ExportConfig) -> Result<Self, String> {
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in config.headers {
            headers.append(name, value);
        }
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(crate::run::USER_AGENT)
            .timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot set up the OTLP exporter: {e}"))?;
        let (queue, rx) = mpsc::channel(QUEUE_TRACES);
        let (pending, _) = watch::channel(0);
        let counts = SpanCounts::default();
        let poster = Poster {
            http,
            url: config.url,
            pending: pending.clone(),
            counts: counts.clone(),
        };
        tokio::spawn(poster.run(rx));
        Ok(Self {
            queue,
            pending,
            counts,
            sample_success: config.sample_success,
        })
    }

    /// The counters, for the agent's `/metrics`.
    pub fn counts(&self) -> SpanCounts {
        self.counts.clone()
    }

    /// Queues the trace of a finished run unless sampled out; never waits.
    /// `result` is already redacted; `secrets` mask what the spans add.
    pub fn submit(
        &self,
        result: &RunResult,
        recorded: &RunSpans,
        run_start: Instant,
        secrets: &[&str],
    ) {
        if result.outcome.is_success() && !sampled(&result.trace_id, self.sample_success) {
            return;
        }
        let trace = spans::of_run(result, recorded, run_start, secrets);
        let count = trace.len() as u64;
        self.pending.send_modify(|n| *n += count);
        if self.queue.try_send(trace).is_err() {
            self.pending.send_modify(|n| *n -= count);
            self.counts.dropped.inc_by(count);
        }
    }

    /// Waits up to `wait` for every queued span to be posted. Returns how
    /// many were still waiting, now counted as dropped.
    pub async fn flush(&self, wait: Duration) -> u64 {
        let mut pending = self.pending.subscribe();
        if tokio::time::timeout(wait, pending.wait_for(|n| *n == 0))
            .await
            .is_ok()
        {
            return 0;
        }
        let left = *self.pending.borrow();
        self.counts.dropped.inc_by(left);
        left
    }
}

/// Whether a passing run's trace is kept: decided by its trace id, as
/// OpenTelemetry's ratio sampler does, so a ratio keeps that share.
fn sampled(trace_id: &str, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let low = trace_id
        .get(16..)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the threshold is a share of the id space; rounding is immaterial"
    )]
    let threshold = (ratio * u64::MAX as f64) as u64;
    low < threshold
}

/// The background task's side.
struct Poster {
    http: reqwest::Client,
    url: Url,
    pending: watch::Sender<u64>,
    counts: SpanCounts,
}

impl Poster {
    async fn run(self, mut rx: mpsc::Receiver<Vec<Span>>) {
        while let Some(first) = rx.recv().await {
            let mut batch = first;
            while batch.len() < BATCH_SPANS {
                match rx.try_recv() {
                    Ok(more) => batch.extend(more),
                    Err(_) => break,
                }
            }
            let count = batch.len() as u64;
            match self.post(batch).await {
                Ok(()) => {
                    self.counts.exported.inc_by(count);
                }
                Err(e) => {
                    self.counts.dropped.inc_by(count);
                    tracing::warn!(collector = %self.url, spans = count, error = %e,
                        "Trace export failed; its spans are dropped.");
                }
            }
            self.pending.send_modify(|n| *n = n.saturating_sub(count));
        }
    }

    async fn post(&self, spans: Vec<Span>) -> Result<(), String> {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![spans::resource_spans(spans)],
        };
        let response = self
            .http
            .post(self.url.clone())
            .body(request.encode_to_vec())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!("no answer within {}s", EXPORT_TIMEOUT.as_secs())
                } else {
                    e.to_string()
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the collector answered {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ratio_keeps_about_that_share_of_trace_ids() {
        let kept = (0..2000)
            .filter(|_| sampled(&crate::run::new_trace_id(), 0.25))
            .count();
        assert!((300..700).contains(&kept), "{kept} of 2000");
        assert!(!sampled(&crate::run::new_trace_id(), 0.0));
        assert!(sampled(&crate::run::new_trace_id(), 1.0));
    }
}
