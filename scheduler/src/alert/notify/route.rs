//! Which notifiers an alert goes to: each `[[notify]]` entry's `match`
//! labels against the alert's labels.

use std::collections::BTreeMap;

use crate::alert::{Alert, Scope, clock_alert_id, spool_alert_id};

/// The Alertmanager `alertname` of an alert: one per scope, and ones of
/// their own for a probe's clock and its full spool disk: it is not down.
pub fn alertname(alert: &Alert) -> &'static str {
    match alert.scope {
        Scope::Region => "SondeScenarioDown",
        Scope::Global => "SondeScenarioGlobalDown",
        Scope::Probe
            if alert
                .probe
                .as_deref()
                .is_some_and(|p| alert.id == clock_alert_id(p)) =>
        {
            "SondeProbeClockSkew"
        }
        Scope::Probe
            if alert
                .probe
                .as_deref()
                .is_some_and(|p| alert.id == spool_alert_id(p)) =>
        {
            "SondeProbeSpoolFull"
        }
        Scope::Probe => "SondeProbeDown",
        Scope::Latency => "SondeLatencyDegraded",
        Scope::Slo => "SondeSloBurn",
        Scope::Anomaly => "SondeLatencyAnomaly",
        Scope::Test => "SondeTest",
    }
}

/// An alert's labels, as Alertmanager gets them and `match` sees them: the
/// scenario's own labels, then ours (which win on a clash): `alertname`,
/// `alert_id`, `scope`, `severity`, `scenario`, `probe`, and `region` for
/// a regional or probe alert. Alertmanager tells alerts apart by their
/// whole label set, so only what stays the same for the alert's life is a
/// label: the regions of a global, latency or SLO alert change as regions
/// fail and recover, and go to the annotations ([`regions`]).
pub fn labels(alert: &Alert) -> BTreeMap<String, String> {
    let mut labels = alert.labels.clone();
    let mut put = |k: &str, v: &str| {
        labels.insert(k.to_owned(), v.to_owned());
    };
    put("alertname", alertname(alert));
    put("alert_id", &alert.id);
    put("scope", alert.scope.as_str());
    put("severity", alert.severity.as_str());
    if let Some(scenario) = &alert.scenario {
        put("scenario", scenario);
    }
    if let Some(probe) = &alert.probe {
        put("probe", probe);
    }
    // Their one region is part of their id, so it never changes.
    if matches!(alert.scope, Scope::Region | Scope::Probe | Scope::Anomaly)
        && let [one] = alert.regions.as_slice()
    {
        put("region", one);
    }
    labels
}

/// The regions an alert covers now, comma-joined: an annotation, since it
/// changes while a global alert spreads or shrinks.
pub fn regions(alert: &Alert) -> String {
    alert.regions.join(",")
}

/// A `[[notify]]` entry's `match`: every label must be equal. `region`
/// matches an alert that covers that region, whether it has one region or
/// several, so a regional team also hears about global incidents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    match_labels: BTreeMap<String, String>,
}

impl Route {
    pub fn new(match_labels: BTreeMap<String, String>) -> Route {
        Route { match_labels }
    }

    /// Whether `alert` goes to this notifier.
    pub fn matches(&self, alert: &Alert) -> bool {
        if self.match_labels.is_empty() {
            return true;
        }
        let labels = labels(alert);
        self.match_labels.iter().all(|(key, want)| {
            if key == "region" {
                alert.regions.iter().any(|r| r == want)
            } else {
                labels.get(key) == Some(want)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notify::testing::alert;

    #[test]
    fn labels_of_a_regional_and_a_global_alert() {
        let regional = alert();
        let l = labels(&regional);
        assert_eq!(l["alertname"], "SondeScenarioDown");
        assert_eq!(l["alert_id"], "checkout/region/eu-west-1");
        assert_eq!(l["region"], "eu-west-1");
        assert_eq!(l["team"], "shop");
        assert!(!l.contains_key("regions"));
        let mut global = alert();
        global.id = "checkout/global".into();
        global.scope = Scope::Global;
        global.regions = vec!["eu-west-1".into(), "us-east-1".into()];
        let l = labels(&global);
        assert_eq!(l["alertname"], "SondeScenarioGlobalDown");
        assert_eq!(l["alert_id"], "checkout/global");
        assert!(!l.contains_key("regions"));
        assert!(!l.contains_key("region"));
        assert_eq!(regions(&global), "eu-west-1,us-east-1");
        // A global alert down to one region is still not a regional one.
        global.regions = vec!["us-east-1".into()];
        assert_eq!(labels(&global).get("region"), None);
    }

    #[test]
    fn a_probe_clock_alert_has_its_own_alertname_and_the_probe_labels() {
        let mut a = alert();
        a.id = clock_alert_id("p-eu-1");
        a.scope = Scope::Probe;
        a.scenario = None;
        a.labels.clear();
        a.probe = Some("p-eu-1".into());
        let l = labels(&a);
        assert_eq!(l["alertname"], "SondeProbeClockSkew");
        assert_eq!(l["alert_id"], "probe/p-eu-1/clock");
        assert_eq!(l["probe"], "p-eu-1");
        assert_eq!(l["region"], "eu-west-1");
        a.id = spool_alert_id("p-eu-1");
        assert_eq!(labels(&a)["alertname"], "SondeProbeSpoolFull");
        assert_eq!(labels(&a)["alert_id"], "probe/p-eu-1/spool");
        a.id = "probe/p-eu-1".into();
        assert_eq!(labels(&a)["alertname"], "SondeProbeDown");
    }

    #[test]
    fn our_labels_win_over_the_scenarios() {
        let mut a = alert();
        a.labels.insert("severity".into(), "info".into());
        assert_eq!(labels(&a)["severity"], "critical");
    }

    #[test]
    fn matching() {
        let mut global = alert();
        global.regions = vec!["eu-west-1".into(), "us-east-1".into()];
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], true),
            (&[("severity", "critical")], true),
            (&[("severity", "warning")], false),
            (&[("severity", "critical"), ("team", "shop")], true),
            (&[("severity", "critical"), ("team", "payments")], false),
            (&[("region", "us-east-1")], true),
            (&[("region", "ap-southeast-1")], false),
            (&[("scope", "region"), ("scenario", "checkout")], true),
            (&[("probe", "p-eu-1")], false),
        ];
        for (labels, want) in cases {
            let route = Route::new(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            );
            assert_eq!(route.matches(&global), *want, "{labels:?}");
        }
    }
}
