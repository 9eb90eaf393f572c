//! The alert engine's series: `sonde_scenario_up`, `sonde_scenario_state`,
//! `sonde_alerts_firing`, `sonde_slo_error_budget_remaining_ratio`,
//! `sonde_slo_burn_rate` and `sonde_scenario_latency_baseline_seconds`. Every label value is a validated name
//! (`[a-z0-9][a-z0-9_.-]*`) or a fixed word, so none needs escaping.

use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder};
use prometheus_client::metrics::MetricType;

use super::names::{
    ALERTS_FIRING, LATENCY_BASELINE, SCENARIO_STATE, SCENARIO_UP, SLO_BUDGET_REMAINING,
    SLO_BURN_RATE,
};
use crate::alert::RegionState;

/// What the engine shows at one scrape.
#[derive(Debug, Clone, Default)]
pub struct AlertSample {
    pub states: Vec<StateSample>,
    /// (scope, severity, alerts firing), every combination.
    pub firing: Vec<(&'static str, &'static str, u64)>,
    pub slo: Vec<SloSample>,
    /// (scenario, region, baseline median in seconds) of each scenario ×
    /// region with `[alert] anomaly` and enough history.
    pub baselines: Vec<(String, String, f64)>,
}

/// One scenario in one region.
#[derive(Debug, Clone)]
pub struct StateSample {
    pub scenario: String,
    pub region: String,
    pub state: RegionState,
    /// `None` while unknown.
    pub up: Option<bool>,
}

/// One scenario's SLO.
#[derive(Debug, Clone)]
pub struct SloSample {
    pub scenario: String,
    pub budget_remaining: f64,
    /// Burn rate by window label.
    pub burn_rates: Vec<(&'static str, f64)>,
}

fn gauge<const N: usize>(
    m: &mut MetricEncoder,
    labels: &[(&str, &str); N],
    v: f64,
) -> std::fmt::Result {
    m.encode_family(labels)?.encode_gauge(&v)
}

impl AlertSample {
    pub fn encode(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let mut m = encoder.encode_descriptor(
            SCENARIO_UP,
            "1 up (or degraded), 0 down, after the alert thresholds; no sample while unknown",
            None,
            MetricType::Gauge,
        )?;
        for s in &self.states {
            if let Some(up) = s.up {
                let labels = [
                    ("scenario", s.scenario.as_str()),
                    ("region", s.region.as_str()),
                ];
                gauge(&mut m, &labels, if up { 1.0 } else { 0.0 })?;
            }
        }
        let mut m = encoder.encode_descriptor(
            SCENARIO_STATE,
            "1 for the scenario's current state in the region, 0 for the others",
            None,
            MetricType::Gauge,
        )?;
        for s in &self.states {
            for state in RegionState::ALL {
                let labels = [
                    ("scenario", s.scenario.as_str()),
                    ("region", s.region.as_str()),
                    ("state", state.as_str()),
                ];
                gauge(&mut m, &labels, if state == s.state { 1.0 } else { 0.0 })?;
            }
        }
        let mut m =
            encoder.encode_descriptor(ALERTS_FIRING, "Alerts firing", None, MetricType::Gauge)?;
        for (scope, severity, n) in &self.firing {
            gauge(
                &mut m,
                &[("scope", scope), ("severity", severity)],
                *n as f64,
            )?;
        }
        let mut m = encoder.encode_descriptor(
            SLO_BUDGET_REMAINING,
            "Error budget left over the SLO window: 1 untouched, below 0 overspent",
            None,
            MetricType::Gauge,
        )?;
        for s in &self.slo {
            gauge(
                &mut m,
                &[("scenario", s.scenario.as_str())],
                s.budget_remaining,
            )?;
        }
        let mut m = encoder.encode_descriptor(
            SLO_BURN_RATE,
            "Error ratio over the window divided by the SLO's allowed error ratio",
            None,
            MetricType::Gauge,
        )?;
        for s in &self.slo {
            for (window, v) in &s.burn_rates {
                let labels = [("scenario", s.scenario.as_str()), ("window", window)];
                gauge(&mut m, &labels, *v)?;
            }
        }
        let mut m = encoder.encode_descriptor(
            LATENCY_BASELINE,
            "Median duration of successful runs the latency anomaly detection compares with",
            None,
            MetricType::Gauge,
        )?;
        for (scenario, region, seconds) in &self.baselines {
            let labels = [("scenario", scenario.as_str()), ("region", region.as_str())];
            gauge(&mut m, &labels, *seconds)?;
        }
        Ok(())
    }
}
