//! Duration histograms of runs whose buckets carry the `trace_id` of the
//! newest run they counted (an OpenMetrics exemplar), so a slow bucket on
//! a dashboard leads to the trace of one run that fell in it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::exemplar::HistogramWithExemplars;
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Upper bounds (seconds) of every duration histogram, the probe's and the
/// scheduler's alike, so their quantiles compare.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The exemplar's label set: `{trace_id="…"}`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TraceLabel {
    trace_id: String,
}

/// Whether `id` is a W3C trace id (32 lowercase hex digits, not all zero).
/// Anything else would need escaping or break the exemplar length limit,
/// and links to no trace anyway.
pub fn is_trace_id(id: &str) -> bool {
    id.len() == 32
        && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && id.bytes().any(|b| b != b'0')
}

/// One run's contribution to a [`RunDurations`].
#[derive(Debug, Clone, Copy)]
pub struct RunSample<'a> {
    pub seconds: f64,
    pub trace_id: &'a str,
    /// When the run ended, Unix milliseconds: the exemplar's timestamp.
    pub ended_ms: i64,
}

/// A histogram over [`DURATION_BUCKETS`] with a `trace_id` exemplar per
/// bucket. Clones share their values, like every prometheus-client metric.
#[derive(Debug, Clone)]
pub struct RunDurations {
    histogram: HistogramWithExemplars<TraceLabel>,
    /// End time of each bucket's exemplar run, so that a result delivered
    /// late does not replace a newer run's exemplar.
    exemplar_ended: Arc<Mutex<[Option<i64>; DURATION_BUCKETS.len() + 1]>>,
    count: Arc<AtomicU64>,
}

impl Default for RunDurations {
    fn default() -> Self {
        Self {
            histogram: HistogramWithExemplars::new(DURATION_BUCKETS.into_iter()),
            exemplar_ended: Arc::default(),
            count: Arc::default(),
        }
    }
}

impl RunDurations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a run; negative and non-finite durations are not counted.
    pub fn observe(&self, run: RunSample<'_>) {
        if !run.seconds.is_finite() || run.seconds < 0.0 {
            return;
        }
        let bucket = DURATION_BUCKETS
            .iter()
            .position(|bound| run.seconds <= *bound)
            .unwrap_or(DURATION_BUCKETS.len());
        let mut ended = self
            .exemplar_ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let newest = ended[bucket].is_none_or(|at| run.ended_ms >= at);
        let exemplar = (newest && is_trace_id(run.trace_id)).then(|| TraceLabel {
            trace_id: run.trace_id.to_owned(),
        });
        if exemplar.is_some() {
            ended[bucket] = Some(run.ended_ms);
        }
        self.histogram
            .observe(run.seconds, exemplar, unix_time(run.ended_ms));
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs counted so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// `ms` as a time, when it is not before 1970 (the encoder cannot write
/// those: it would panic).
fn unix_time(ms: i64) -> Option<SystemTime> {
    let ms = u64::try_from(ms).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_millis(ms))
}

impl TypedMetric for RunDurations {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for RunDurations {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.histogram.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use super::*;

    const TRACE_A: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const TRACE_B: &str = "00f067aa0ba902b700f067aa0ba902b7";

    fn text(h: &RunDurations) -> String {
        let mut registry = Registry::default();
        registry.register("run_duration_seconds", "Runs", h.clone());
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).expect("encodes");
        out
    }

    fn bucket_line<'a>(text: &'a str, le: &str) -> &'a str {
        let prefix = format!("run_duration_seconds_bucket{{le=\"{le}\"}} ");
        text.lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no bucket {le} in\n{text}"))
    }

    #[test]
    fn a_bucket_carries_the_trace_id_value_and_end_time_of_its_newest_run() {
        let h = RunDurations::new();
        let run = |seconds, trace_id, ended_ms| RunSample {
            seconds,
            trace_id,
            ended_ms,
        };
        h.observe(run(0.2, TRACE_A, 1_700_000_000_000));
        // Delivered late: counted, but the newer run stays the exemplar.
        h.observe(run(0.15, TRACE_B, 1_699_999_000_000));
        h.observe(run(3.0, TRACE_B, 1_700_000_001_500));
        let out = text(&h);
        assert_eq!(
            bucket_line(&out, "0.25"),
            format!(
                "run_duration_seconds_bucket{{le=\"0.25\"}} 2 # {{trace_id=\"{TRACE_A}\"}} 0.2 1700000000.0"
            ),
        );
        assert_eq!(
            bucket_line(&out, "5.0"),
            format!(
                "run_duration_seconds_bucket{{le=\"5.0\"}} 3 # {{trace_id=\"{TRACE_B}\"}} 3.0 1700000001.5"
            ),
        );
        assert_eq!(
            bucket_line(&out, "0.1"),
            "run_duration_seconds_bucket{le=\"0.1\"} 0"
        );
        assert_eq!(h.count(), 3);
    }

    #[test]
    fn malformed_trace_ids_and_times_before_1970_give_no_broken_exemplar() {
        let h = RunDurations::new();
        for trace_id in ["", "0", "x\"} 1", &"0".repeat(32), &TRACE_A.to_uppercase()] {
            h.observe(RunSample {
                seconds: 0.2,
                trace_id,
                ended_ms: 1_700_000_000_000,
            });
        }
        h.observe(RunSample {
            seconds: 1.5,
            trace_id: TRACE_A,
            ended_ms: -5_000,
        });
        let out = text(&h);
        assert_eq!(
            bucket_line(&out, "0.25"),
            "run_duration_seconds_bucket{le=\"0.25\"} 5"
        );
        assert_eq!(
            bucket_line(&out, "2.5"),
            format!("run_duration_seconds_bucket{{le=\"2.5\"}} 6 # {{trace_id=\"{TRACE_A}\"}} 1.5")
        );
    }

    #[test]
    fn negative_and_non_finite_durations_are_not_counted() {
        let h = RunDurations::new();
        for seconds in [-1.0, f64::NAN, f64::INFINITY] {
            h.observe(RunSample {
                seconds,
                trace_id: TRACE_A,
                ended_ms: 0,
            });
        }
        assert_eq!(h.count(), 0);
        assert!(text(&h).contains("run_duration_seconds_count 0"));
    }
}
