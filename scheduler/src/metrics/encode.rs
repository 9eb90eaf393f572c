//! One scrape: a snapshot of every series, written through
//! prometheus-client's encoder (OpenMetrics text).

use std::fmt::Write;

use exposition::RunDurations;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelValue, EncodeMetric, LabelValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use scenarios::wire::RejectReason;

use super::names::{self, PHASES};
use super::series::SeriesMap;

/// A probe's series.
#[derive(Debug, Clone)]
pub struct ProbeSample {
    pub name: String,
    pub region: String,
    pub up: bool,
    pub last_seen_seconds: f64,
}

/// `sonde_scheduler_leader{replica}`: this replica only.
#[derive(Debug, Clone)]
pub struct LeaderSample {
    pub replica: String,
    pub leader: bool,
    /// Whether this replica loaded the leader's catalog, once known
    /// (`sonde_scheduler_catalog_matches_leader{replica}`).
    pub catalog_matches_leader: Option<bool>,
}

/// Everything one scrape shows.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub series: SeriesMap,
    pub probes: Vec<ProbeSample>,
    /// Live probes per region, for every region a probe or scenario names.
    pub regions: Vec<(String, usize)>,
    pub invalid_files: usize,
    pub ingest: super::IngestCounts,
    pub notifications: super::NotificationSample,
    pub alerting: super::AlertSample,
    pub leader: Option<LeaderSample>,
    pub store: super::StoreSample,
}

impl Scrape {
    /// The OpenMetrics text of this scrape.
    pub fn encode(self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            tracing::error!("Encoding metrics failed.");
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped (the encoder writes
/// values verbatim; step names are free text).
struct Escaped<'a>(&'a str);

impl EncodeLabelValue for Escaped<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

type Labels<'a, const N: usize> = [(&'static str, Escaped<'a>); N];

fn gauge<const N: usize>(
    m: &mut MetricEncoder,
    labels: &Labels<'_, N>,
    v: f64,
) -> std::fmt::Result {
    m.encode_family(labels)?.encode_gauge(&v)
}

fn counter<const N: usize>(
    m: &mut MetricEncoder,
    labels: &Labels<'_, N>,
    v: u64,
) -> std::fmt::Result {
    m.encode_family(labels)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn histogram<const N: usize>(
    m: &mut MetricEncoder,
    labels: &Labels<'_, N>,
    h: &RunDurations,
) -> std::fmt::Result {
    h.encode(m.encode_family(labels)?)
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        self.encode_scenarios(&mut encoder)?;
        self.encode_steps(&mut encoder)?;
        self.encode_fleet(&mut encoder)?;
        self.encode_leader(&mut encoder)?;
        self.notifications.encode(&mut encoder)?;
        self.store.encode(&mut encoder)?;
        self.alerting.encode(&mut encoder)
    }
}

impl Scrape {
    fn encode_scenarios(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let s = &self.series;
        let mut m = encoder.encode_descriptor(
            names::SCENARIO_SUCCESS,
            "1 when the scenario's last run in the region succeeded",
            None,
            MetricType::Gauge,
        )?;
        for ((scenario, region), v) in s {
            let labels = [("scenario", Escaped(scenario)), ("region", Escaped(region))];
            gauge(&mut m, &labels, if v.success { 1.0 } else { 0.0 })?;
        }
        let mut m = encoder.encode_descriptor(
            names::SCENARIO_DURATION,
            "Duration of whole runs",
            None,
            MetricType::Histogram,
        )?;
        for ((scenario, region), v) in s {
            let labels = [("scenario", Escaped(scenario)), ("region", Escaped(region))];
            histogram(&mut m, &labels, &v.duration)?;
        }
        let mut m = encoder.encode_descriptor(
            names::SCENARIO_RUNS,
            "Runs by outcome",
            None,
            MetricType::Counter,
        )?;
        for ((scenario, region), v) in s {
            for (outcome, n) in scenarios::wire::Outcome::ALL.iter().zip(v.runs) {
                let labels = [
                    ("scenario", Escaped(scenario)),
                    ("region", Escaped(region)),
                    ("outcome", Escaped(outcome.as_str())),
                ];
                counter(&mut m, &labels, n)?;
            }
        }
        Ok(())
    }

    fn encode_steps(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let steps = || {
            self.series.iter().flat_map(|((scenario, region), v)| {
                v.steps
                    .iter()
                    .map(move |(step, st)| (scenario, region, step, st))
            })
        };
        let mut m = encoder.encode_descriptor(
            names::STEP_DURATION,
            "Duration of steps",
            None,
            MetricType::Histogram,
        )?;
        for (scenario, region, step, st) in steps() {
            if st.duration.count() > 0 {
                let labels = [
                    ("scenario", Escaped(scenario)),
                    ("region", Escaped(region)),
                    ("step", Escaped(step)),
                ];
                histogram(&mut m, &labels, &st.duration)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            names::STEP_PHASE,
            "Time per network phase in the step's last run",
            None,
            MetricType::Gauge,
        )?;
        for (scenario, region, step, st) in steps() {
            for (phase, v) in PHASES.iter().zip(st.phases) {
                if let Some(v) = v {
                    let labels = [
                        ("scenario", Escaped(scenario)),
                        ("region", Escaped(region)),
                        ("step", Escaped(step)),
                        ("phase", Escaped(phase)),
                    ];
                    gauge(&mut m, &labels, v)?;
                }
            }
        }
        let mut m = encoder.encode_descriptor(
            names::TLS_CERT_EXPIRY,
            "Unix time the server certificate expires",
            None,
            MetricType::Gauge,
        )?;
        for (scenario, region, step, st) in steps() {
            if let Some(v) = st.cert_expiry {
                let labels = [
                    ("scenario", Escaped(scenario)),
                    ("region", Escaped(region)),
                    ("step", Escaped(step)),
                ];
                gauge(&mut m, &labels, v)?;
            }
        }
        Ok(())
    }

    fn encode_leader(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let Some(l) = &self.leader else {
            return Ok(());
        };
        let mut m = encoder.encode_descriptor(
            names::SCHEDULER_LEADER,
            "1 while this replica holds the leader lease: it alone evaluates alerts, sends notifications and runs retention",
            None,
            MetricType::Gauge,
        )?;
        let labels = [("replica", Escaped(&l.replica))];
        gauge(&mut m, &labels, if l.leader { 1.0 } else { 0.0 })?;
        let Some(matches) = l.catalog_matches_leader else {
            return Ok(());
        };
        let mut m = encoder.encode_descriptor(
            names::SCHEDULER_CATALOG_MATCHES_LEADER,
            "1 while this replica's scenario directory loads to the same catalog version as the leader's",
            None,
            MetricType::Gauge,
        )?;
        gauge(&mut m, &labels, if matches { 1.0 } else { 0.0 })
    }

    fn encode_fleet(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let mut m = encoder.encode_descriptor(
            names::PROBE_UP,
            "1 while the probe calls within probe_silence",
            None,
            MetricType::Gauge,
        )?;
        for p in &self.probes {
            let labels = [("probe", Escaped(&p.name)), ("region", Escaped(&p.region))];
            gauge(&mut m, &labels, if p.up { 1.0 } else { 0.0 })?;
        }
        let mut m = encoder.encode_descriptor(
            names::PROBE_LAST_SEEN,
            "Unix time of the probe's last call",
            None,
            MetricType::Gauge,
        )?;
        for p in &self.probes {
            let labels = [("probe", Escaped(&p.name)), ("region", Escaped(&p.region))];
            gauge(&mut m, &labels, p.last_seen_seconds)?;
        }
        let mut m = encoder.encode_descriptor(
            names::REGION_LIVE_PROBES,
            "Live probes per region (0: the region's scenarios do not run)",
            None,
            MetricType::Gauge,
        )?;
        for (region, n) in &self.regions {
            gauge(&mut m, &[("region", Escaped(region))], *n as f64)?;
        }
        let m = encoder.encode_descriptor(
            names::CATALOG_INVALID_FILES,
            "Scenario files that do not validate",
            None,
            MetricType::Gauge,
        )?;
        let mut m = m;
        m.encode_gauge(&(self.invalid_files as f64))?;
        let mut m = encoder.encode_descriptor(
            names::INGEST_RESULTS,
            "Results received, by outcome; rejected ones by reason",
            None,
            MetricType::Counter,
        )?;
        let counts = &self.ingest;
        for (outcome, n) in [
            ("accepted", counts.accepted),
            ("duplicate", counts.duplicate),
        ] {
            counter(&mut m, &[("outcome", Escaped(outcome))], n)?;
        }
        // Every reason, zero or not, so that rates start from the first scrape.
        for (reason, n) in RejectReason::ALL.iter().zip(counts.rejected) {
            let labels = [
                ("outcome", Escaped("rejected")),
                ("reason", Escaped(reason.as_str())),
            ];
            counter(&mut m, &labels, n)?;
        }
        Ok(())
    }
}
