//! The periodic measurements: SLO statuses and latency objectives read
//! from stored runs off the writer, then applied through the engine.

use crate::alert::{latency, slo_status_at};
use crate::app::App;
use crate::store::StoreError;

/// Recomputes SLO statuses and latency objectives from stored runs (all
/// of them, or only SLOs with new results) and applies them.
///
/// # Errors
/// Store errors.
pub async fn measure(app: &App, all: bool) -> Result<(), StoreError> {
    let catalog = app.catalog.current();
    let dirty = app.alerts.take_slo_dirty();
    let now_ms = app.clock.now_ms();
    let mut slos = Vec::new();
    let mut latencies = Vec::new();
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
    }
    if slos.is_empty() && latencies.is_empty() {
        return Ok(());
    }
    let (slo, latency) = app
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
            Ok((slo, latency))
        })
        .await?;
    super::commit(app, move |engine, tx, world| {
        Ok(((), engine.apply_measurements(tx, world, latency, slo)?))
    })
    .await
}
