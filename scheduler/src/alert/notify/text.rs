//! The facts on-call reads at 3 AM, worded once for every channel.

use scenarios::wire::Outcome;

use crate::alert::{Alert, AlertStatus, Confirmation, Scope};

/// One named fact of an alert, in reading order.
pub type Fact = (&'static str, String);

/// Every fact the alert has: what, where, why, proof and when.
pub fn facts(alert: &Alert, status: AlertStatus) -> Vec<Fact> {
    let mut out: Vec<Fact> = Vec::new();
    match (&alert.scenario, &alert.probe) {
        (Some(scenario), _) => out.push(("Scenario", scenario.clone())),
        (None, Some(probe)) => out.push(("Probe", probe.clone())),
        (None, None) => {}
    }
    out.push(("Scope", alert.scope.as_str().to_owned()));
    if !alert.regions.is_empty() {
        out.push(("Regions", alert.regions.join(", ")));
    }
    out.push(("Severity", alert.severity.as_str().to_owned()));
    if let Some(step) = &alert.step {
        out.push(("Step", step.clone()));
    }
    if let Some(failure) = failure(alert) {
        out.push(failure);
    }
    if let Some(c) = &alert.confirmation {
        out.push(("Confirmation", confirmation(c, alert.scope)));
    }
    if !alert.dependents.is_empty() {
        out.push(("Dependents down", alert.dependents.join(", ")));
    }
    if let Some(trace) = &alert.trace_id {
        out.push(("Trace id", trace.clone()));
    }
    out.push(("Started", time(alert.started_at)));
    if status == AlertStatus::Resolved
        && let Some(seconds) = duration_s(alert)
    {
        out.push(("Duration", human(seconds)));
    }
    out
}

/// The failed assertion (`expected X, got Y`) or else the step's error.
pub fn failure(alert: &Alert) -> Option<Fact> {
    match (&alert.expected, &alert.actual, &alert.error) {
        (Some(e), Some(a), _) => Some(("Expected vs actual", format!("expected {e}, got {a}"))),
        (Some(e), None, _) => Some(("Expected", e.clone())),
        (None, _, Some(err)) => Some(("Error", err.clone())),
        _ => None,
    }
}

fn confirmation(c: &Confirmation, scope: Scope) -> String {
    match (c.outcome, scope) {
        (Outcome::Success, Scope::Region) => {
            format!("passed from {} (the failure is regional)", c.region)
        }
        (Outcome::Success, _) => format!("passed from {}", c.region),
        (outcome, _) => format!("{} from {} too", outcome.as_str(), c.region),
    }
}

/// How long a resolved alert lasted, from the alert or its times.
pub fn duration_s(alert: &Alert) -> Option<f64> {
    alert.duration_s.or_else(|| {
        let ended = alert.ended_at?;
        Some((ended - alert.started_at).num_milliseconds() as f64 / 1000.0)
    })
}

/// RFC 3339 UTC with milliseconds, like every time in Sonde.
pub fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `1h 2m 3s`, `4m 5s`, `12s`.
pub fn human(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (d, h, m, s) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let parts = [(d, "d"), (h, "h"), (m, "m"), (s, "s")];
    let shown: Vec<String> = parts
        .iter()
        .skip_while(|(n, _)| *n == 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if shown.is_empty() {
        "0s".to_owned()
    } else {
        shown.join(" ")
    }
}

/// `text` cut to at most `max` characters, with `…` when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notify::testing::alert;

    #[test]
    fn facts_of_a_confirmed_regional_alert() {
        let facts = facts(&alert(), AlertStatus::Firing);
        let text: Vec<String> = facts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let text = text.join("\n");
        assert!(text.contains("Step: checkout"), "{text}");
        assert!(text.contains("expected 200, got 503"), "{text}");
        assert!(
            text.contains("passed from us-east-1 (the failure is regional)"),
            "{text}"
        );
        assert!(
            text.contains("Trace id: 4bf92f3577b34da6a3ce929d0e0e4736"),
            "{text}"
        );
        assert!(!text.contains("Duration"), "{text}");
        assert!(!text.contains("Dependents"), "none, so no line: {text}");
    }

    #[test]
    fn a_parent_alert_names_its_dependents_down() {
        let a = Alert {
            dependents: vec!["checkout".into(), "search".into()],
            ..alert()
        };
        let facts = facts(&a, AlertStatus::Firing);
        assert!(
            facts.contains(&("Dependents down", "checkout, search".into())),
            "{facts:?}"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human(0.2), "0s");
        assert_eq!(human(12.0), "12s");
        assert_eq!(human(245.0), "4m 5s");
        assert_eq!(human(3723.0), "1h 2m 3s");
        assert_eq!(human(90_000.0), "1d 1h 0m 0s");
    }

    #[test]
    fn cut_marks_the_cut() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
