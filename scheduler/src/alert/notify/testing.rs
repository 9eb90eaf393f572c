//! Fixtures for the notifiers' unit tests.

use chrono::{DateTime, TimeZone, Utc};

use crate::alert::{Alert, Confirmation, Scope};

/// 2026-11-24T10:02:00Z.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 10, 2, 0)
        .single()
        .unwrap_or_default()
}

/// The regional alert of DESIGN.md's webhook example.
pub fn alert() -> Alert {
    Alert {
        id: "checkout/region/eu-west-1".into(),
        scope: Scope::Region,
        scenario: Some("checkout".into()),
        regions: vec!["eu-west-1".into()],
        probe: None,
        severity: "critical".into(),
        step: Some("checkout".into()),
        error: None,
        expected: Some("200".into()),
        actual: Some("503".into()),
        confirmation: Some(Confirmation {
            region: "us-east-1".into(),
            outcome: "success".into(),
        }),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        runbook: Some("https://runbooks.example.com/checkout".into()),
        url: Some("http://127.0.0.1:9470/api/v1/scenarios/checkout".into()),
        summary: "checkout is down in eu-west-1: step checkout expected 200, got 503".into(),
        labels: [("team".to_owned(), "shop".to_owned())].into(),
        started_at: t0() + chrono::Duration::milliseconds(10_900),
        ended_at: None,
        duration_s: None,
    }
}
