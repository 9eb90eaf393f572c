//! The alerting series of one scrape: each scenario × region's state, SLO
//! budgets and burn rates, latency baselines, and the firing alerts by scope and severity.

use crate::alert::Scope;
use crate::app::App;
use crate::metrics::{AlertSample, SloSample, StateSample};

/// The alerting series of one scrape.
pub fn sample(app: &App) -> AlertSample {
    let world = super::capture(app);
    let now = world.now;
    let mut out = AlertSample::default();
    for s in world.catalog.scenarios.values() {
        for region in world.regions_of(s) {
            if s.scenario.alert.anomaly.is_some()
                && let Some(v) = app.alerts.anomaly(&s.name, &region)
            {
                let seconds = v.baseline.median_ms / 1_000.0;
                out.baselines
                    .push((s.name.clone(), region.clone(), seconds));
            }
            let (state, up) = app.alerts.region_state(
                &s.name,
                &region,
                world.live(&region, &s.needs),
                &s.scenario.labels,
                now,
            );
            out.states.push(StateSample {
                scenario: s.name.clone(),
                region,
                state,
                up,
            });
        }
        if let Some(status) = app.alerts.slo(&s.name) {
            out.slo.push(SloSample {
                scenario: s.name.clone(),
                budget_remaining: status.budget_remaining,
                burn_rates: status.burn_rates.iter().map(|(w, v)| (*w, *v)).collect(),
            });
        }
    }
    let open = app.alerts.open();
    for scope in Scope::ALL {
        for severity in scenarios::model::Severity::ALL {
            let n = open
                .iter()
                .filter(|a| a.alert.scope == scope && a.alert.severity == severity)
                .count();
            out.firing.push((
                scope.as_str(),
                severity.as_str(),
                u64::try_from(n).unwrap_or(u64::MAX),
            ));
        }
    }
    out
}
