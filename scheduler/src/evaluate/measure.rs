//! The periodic measurements: SLO statuses, latency objectives and
//! latency anomalies read from stored runs off the writer, then applied
//! through the engine.

use crate::alert::{anomaly_at, latency, slo_status_at};
use crate::app::App;
use crate::store::StoreError;

/// Recomputes SLO statuses, latency objectives and anomaly verdicts from
/// stored runs (all of them, or only SLOs with new results) and applies
/// them.
///
/// # Errors
/// Store errors.
pub async fn measure(app: &App, all: bool) -> Result<(), StoreError> {
    let catalog = app.catalog.current();
    let dirty = app.alerts.take_slo_dirty();
    let now_ms = app.clock.now_ms();
    let mut slos = Vec::new();
    let mut latencies = Vec::new();
    let mut anomalies = Vec::new();
    for s in catalog.scenarios.values() {
        let policy = &s.scenario.alert;
        if let Some(objective) = &policy.slo
            && (all || dirty.contains(&s.name))
        {
            slos.push((s.name.clone(), objective.clone()));
        }
        if let Some(objective) = policy.latency.clone().filter(|_| all) {
            for region in app.fleet.regions_of(s) {
                latencies.push(((s.name.clone(), region), objective.clone()));
            }
        }
        if let Some(policy) = policy.anomaly.filter(|_| all) {
            for region in app.fleet.regions_of(s) {
                let since = app.alerts.anomaly_firing_since(&s.name, &region);
                anomalies.push(((s.name.clone(), region), policy, since));
            }
        }
    }
    if slos.is_empty() && latencies.is_empty() && anomalies.is_empty() {
        return Ok(());
    }
    let (slo, latency, anomaly) = app
        .store
        .read(move |tx| {
            let slo = slos
                .iter()
                .map(|(name, o)| Ok((name.clone(), slo_status_at(tx, name, o, now_ms)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let latency = latencies
                .into_iter()
                .map(|(key, o)| {
                    let (value, missed) = latency::measure(tx, &key.0, &key.1, &o, now_ms)?;
                    Ok((key, value, missed))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let anomaly = anomalies
                .into_iter()
                .map(|(key, policy, since)| {
                    let verdict = anomaly_at(tx, &key.0, &key.1, &policy, now_ms, since)?;
                    Ok((key, verdict))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok((slo, latency, anomaly))
        })
        .await?;
    super::commit(app, move |engine, tx, world| {
        let effects = engine.apply_measurements(tx, world, latency, slo, anomaly)?;
        Ok(((), effects))
    })
    .await
}
