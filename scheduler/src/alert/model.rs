//! What an alert is, as every receiver sees it: the facts on-call needs at
//! 3 AM (`docs/alerting.md`, "What a notification carries"). The engine produces [`AlertEvent`]s;
//! the notifiers deliver them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use scenarios::model::Severity;
use scenarios::wire::Outcome;
use serde::{Deserialize, Serialize};

/// Where an alert applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One region of one scenario is down.
    Region,
    /// `global_regions` or more regions of one scenario are down.
    Global,
    /// A probe, or every probe of a region, stopped reporting.
    Probe,
    /// A latency objective is missed (degraded, not down).
    Latency,
    /// An SLO's error budget burns too fast.
    Slo,
    /// A region's latency left the band its own history draws.
    Anomaly,
    /// A test notification (`scheduler notify test`): never stored, never
    /// raised by the engine.
    Test,
}

impl Scope {
    /// The scopes the engine raises alerts in (the label values of its
    /// metrics); [`Scope::Test`] is not one.
    pub const ALL: [Scope; 6] = [
        Scope::Region,
        Scope::Global,
        Scope::Probe,
        Scope::Latency,
        Scope::Slo,
        Scope::Anomaly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Region => "region",
            Scope::Global => "global",
            Scope::Probe => "probe",
            Scope::Latency => "latency",
            Scope::Slo => "slo",
            Scope::Anomaly => "anomaly",
            Scope::Test => "test",
        }
    }
}

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// The result of the confirmation run from another region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub region: String,
    pub outcome: Outcome,
}

/// One alert with everything a notification carries. Serialized as the
/// `alert` object of the generic webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable across the alert's life: `checkout/region/eu-west-1`,
    /// `checkout/global`, `probe/p-eu-1`, `region/eu-west-1`,
    /// `checkout/latency`, `checkout/slo/page`, `checkout/anomaly/eu-west-1`. Also PagerDuty's `dedup_key`.
    pub id: String,
    pub scope: Scope,
    /// `None` for a probe alert.
    pub scenario: Option<String>,
    pub regions: Vec<String>,
    /// Set for a single probe's alert.
    pub probe: Option<String>,
    pub severity: Severity,
    /// The failing step, its error, and the failed assertion's expected vs
    /// actual, from the run that raised the alert.
    pub step: Option<String>,
    pub error: Option<String>,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub confirmation: Option<Confirmation>,
    pub trace_id: Option<String>,
    pub runbook: Option<String>,
    /// The scenario in the API.
    pub url: Option<String>,
    /// The scenario's status page, where the failing run's evidence (status
    /// line, headers, body) is shown. `None` for a probe or region alert.
    #[serde(default)]
    pub page_url: Option<String>,
    /// The failing run's trace in the operator's tracing UI (`trace_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
    /// One line for humans: "checkout is down in eu-west-1: step checkout expected 200, got 503".
    pub summary: String,
    /// The scenario's own labels, passed on to Alertmanager.
    pub labels: BTreeMap<String, String>,
    /// Scenarios that depend on this one (`depends_on`) and are down in
    /// its regions too: their own alerts are suppressed. It changes while
    /// the alert fires, so it is never a label; serialized only when some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependents: Vec<String>,
    #[serde(with = "scenarios::wire::time")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "scenarios::wire::time::option")]
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_s: Option<f64>,
}

impl Alert {
    /// An alert with only what every alert has; the rest is empty until
    /// set (`Alert { scenario: …, ..Alert::new(…) }`).
    pub fn new(
        id: impl Into<String>,
        scope: Scope,
        severity: Severity,
        started_at: DateTime<Utc>,
    ) -> Alert {
        Alert {
            id: id.into(),
            scope,
            scenario: None,
            regions: Vec::new(),
            probe: None,
            severity,
            step: None,
            error: None,
            expected: None,
            actual: None,
            confirmation: None,
            trace_id: None,
            runbook: None,
            url: None,
            page_url: None,
            trace_url: None,
            summary: String::new(),
            labels: BTreeMap::new(),
            dependents: Vec::new(),
            started_at,
            ended_at: None,
            duration_s: None,
        }
    }
}

/// A change of an alert's state, to be delivered to every matching notifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub status: AlertStatus,
    pub alert: Alert,
    /// True when the alert is silenced: recorded, not sent.
    pub muted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored alerts and every payload carry these words; a rename would
    /// break rows written by earlier versions.
    #[test]
    fn severity_and_outcome_serialize_as_their_words() {
        for s in Severity::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Severity>(&json).unwrap(), s);
        }
        for o in Outcome::ALL {
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.as_str())
            );
        }
        let unknown = serde_json::from_str::<Severity>("\"error\"").unwrap_err();
        assert!(unknown.to_string().contains("unknown variant `error`"));
    }

    /// The webhook body and stored rows carry `dependents` only when some
    /// are down; rows written before it existed still read.
    #[test]
    fn dependents_are_serialized_only_when_there_are_some() {
        let at = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let mut alert = Alert::new(
            "api/region/eu-west-1",
            Scope::Region,
            Severity::Critical,
            at,
        );
        let json = serde_json::to_value(&alert).unwrap();
        assert!(json.get("dependents").is_none(), "{json}");
        let back: Alert = serde_json::from_value(json).unwrap();
        assert!(back.dependents.is_empty());
        alert.dependents = vec!["checkout".into()];
        let json = serde_json::to_value(&alert).unwrap();
        assert_eq!(json["dependents"], serde_json::json!(["checkout"]));
    }
}
