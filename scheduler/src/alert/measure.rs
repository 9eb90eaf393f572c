//! Measurements over stored runs: SLO statuses (one query per scenario
//! for all windows), latency objectives, and the alerting series of a
//! scrape.

use std::time::Duration;

use rusqlite::Connection;
use scenarios::model::SloObjective;

use super::model::Scope;
use super::slo::{self, SloStatus};
use super::{World, commit, latency};
use crate::app::App;
use crate::metrics::{AlertSample, SloSample, StateSample};
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
        .read(move |conn| {
            let slo = slos
                .iter()
                .map(|(name, o)| Ok((name.clone(), slo_status_at(conn, name, o, now_ms)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let latency = latencies
                .into_iter()
                .map(|(key, o)| {
                    let (value, missed) = latency::measure(conn, &key.0, &key.1, &o, now_ms)?;
                    Ok((key, value, missed))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok((slo, latency))
        })
        .await?;
    commit(app, move |engine, conn, world| {
        Ok(((), engine.apply_measurements(conn, world, latency, slo)?))
    })
    .await
}

/// The SLO of `name` from its stored runs up to `now_ms`.
///
/// # Errors
/// SQL errors.
pub fn slo_status_at(
    conn: &Connection,
    name: &str,
    objective: &SloObjective,
    now_ms: i64,
) -> Result<SloStatus, StoreError> {
    let ms = |d: Duration| now_ms.saturating_sub(crate::clock::millis(d));
    let mut since = vec![ms(objective.window)];
    since.extend(slo::BURN_WINDOWS.iter().map(|(_, w)| ms(*w)));
    let oldest = since.iter().copied().min().unwrap_or(now_ms);
    let sums: Vec<String> = (0..since.len())
        .map(|i| {
            let p = i + 3;
            format!(
                "COALESCE(SUM(started_at > ?{p}), 0), \
                 COALESCE(SUM(started_at > ?{p} AND outcome != 'success'), 0)"
            )
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM results WHERE scenario = ?1 AND started_at <= ?2 AND started_at > ?{}",
        sums.join(", "),
        since.len() + 3
    );
    let mut params: Vec<rusqlite::types::Value> = vec![name.to_owned().into(), now_ms.into()];
    params.extend(since.iter().map(|s| rusqlite::types::Value::from(*s)));
    params.push(oldest.into());
    let counts: Vec<slo::Counts> =
        conn.prepare_cached(&sql)?
            .query_row(rusqlite::params_from_iter(params), |row| {
                (0..since.len())
                    .map(|i| {
                        Ok(slo::Counts {
                            total: u64::try_from(row.get::<_, i64>(2 * i)?).unwrap_or(0),
                            failed: u64::try_from(row.get::<_, i64>(2 * i + 1)?).unwrap_or(0),
                        })
                    })
                    .collect()
            })?;
    let window = counts.first().copied().unwrap_or_default();
    let mut burns = [slo::Counts::default(); 7];
    for (b, c) in burns.iter_mut().zip(counts.iter().skip(1)) {
        *b = *c;
    }
    Ok(slo::evaluate(objective, window, &burns))
}

/// The alerting series of one scrape.
pub fn sample(app: &App) -> AlertSample {
    let world = World::capture(app);
    let now = world.now;
    let mut out = AlertSample::default();
    for s in world.catalog.scenarios.values() {
        for region in world.regions_of(s) {
            let (state, up) = app.alerts.region_state(
                &s.name,
                &region,
                world.live(&region),
                &s.scenario.labels,
                now,
            );
            out.states.push(StateSample {
                scenario: s.name.clone(),
                region,
                state: state.as_str(),
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
        for severity in ["critical", "warning", "info"] {
            let n = open
                .iter()
                .filter(|a| a.alert.scope == scope && a.alert.severity == severity)
                .count();
            out.firing.push((
                scope.as_str(),
                severity,
                u64::try_from(n).unwrap_or(u64::MAX),
            ));
        }
    }
    out
}
