//! SLO statuses measured over stored runs: one query per scenario for
//! every window, one for the history they cover.

use std::time::Duration;

use scenarios::model::{AnomalyPolicy, SloObjective};

use super::anomaly::{self, Sample, Verdict};
use super::slo::{self, SloStatus};
use crate::store::{Results, StoreError};

/// The SLO of `name` from its stored runs up to `now_ms`.
///
/// # Errors
/// Store errors.
pub fn slo_status_at(
    store: &dyn Results,
    name: &str,
    objective: &SloObjective,
    now_ms: i64,
) -> Result<SloStatus, StoreError> {
    let ms = |d: Duration| now_ms.saturating_sub(crate::clock::millis(d));
    let mut since = vec![ms(objective.window)];
    since.extend(slo::BURN_WINDOWS.iter().map(|(_, w)| ms(*w)));
    let counts = store.outcome_counts(name, now_ms, &since)?;
    let window = counts.first().copied().unwrap_or_default();
    let mut burns = [slo::Counts::default(); 7];
    for (b, c) in burns.iter_mut().zip(counts.iter().skip(1)) {
        *b = *c;
    }
    let history = slo::history(store.first_run_at(name)?, now_ms);
    Ok(slo::evaluate(objective, window, &burns, history))
}

/// The latency anomaly verdict of `scenario` in `region` from its stored
/// successful runs up to `now_ms`; `firing_since` is when its open
/// anomaly alert started, if one is open.
///
/// # Errors
/// Store errors.
pub fn anomaly_at(
    store: &dyn Results,
    scenario: &str,
    region: &str,
    policy: &AnomalyPolicy,
    now_ms: i64,
    firing_since: Option<i64>,
) -> Result<Option<Verdict>, StoreError> {
    let weeks = Duration::from_secs(7 * 86_400 * anomaly::SEASON_WEEKS as u64);
    let reach = weeks.max(anomaly::WINDOW) + anomaly::SLOT_HALF_WIDTH;
    let since = firing_since
        .unwrap_or(now_ms)
        .saturating_sub(crate::clock::millis(reach));
    let history: Vec<Sample> = store
        .successful_runs_since(scenario, region, since)?
        .into_iter()
        .filter(|(at, _)| *at <= now_ms)
        .map(|(started_ms, duration_ms)| Sample {
            started_ms,
            duration_ms,
        })
        .collect();
    Ok(anomaly::judge(&history, now_ms, policy, firing_since))
}
