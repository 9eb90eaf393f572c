//! Fixtures for the notifiers' unit tests.

use chrono::{DateTime, TimeZone, Utc};
use scenarios::model::Severity;
use scenarios::wire::Outcome;

use crate::alert::{Alert, Confirmation, Scope};

/// 2026-11-24T10:02:00Z.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 2, 0)
        .single()
        .unwrap_or_default()
}

/// The regional alert of the webhook example in `docs/alerting.md`.
pub fn alert() -> Alert {
    let started_at = t0() + chrono::Duration::milliseconds(10_900);
    Alert {
        scenario: Some("checkout".into()),
        regions: vec!["eu-west-1".into()],
        step: Some("checkout".into()),
        expected: Some("200".into()),
        actual: Some("503".into()),
        confirmation: Some(Confirmation {
            region: "us-east-1".into(),
            outcome: Outcome::Success,
        }),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        runbook: Some("https://runbooks.example.com/checkout".into()),
        url: Some("http://127.0.0.1:9470/api/v1/scenarios/checkout".into()),
        summary: "checkout is down in eu-west-1: step checkout expected 200, got 503".into(),
        labels: [("team".to_owned(), "shop".to_owned())].into(),
        ..Alert::new(
            "checkout/region/eu-west-1",
            Scope::Region,
            Severity::Critical,
            started_at,
        )
    }
}
