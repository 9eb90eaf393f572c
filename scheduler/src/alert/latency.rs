//! The latency objective (`p95 < 1500ms over 10m`): the nearest-rank
//! percentile of successful runs' durations over the window. Failed runs
//! are left out: a timeout is "down", not "slow", and a fast refusal
//! would hide slowness.

use scenarios::model::LatencyObjective;
use scenarios::wire::Outcome;

use crate::store::{Results, StoreError};

/// Nearest-rank percentile `p` (0–100) of `values` (sorted here).
pub fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    // 99.9% of 1000 is 999.000…1 in floating point; it means rank 999.
    let rank = ((p * values.len() as f64) / 100.0 - 1e-9).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

/// The objective's percentile (ms) of `scenario` in `region` over the
/// window ending at `now_ms`, and whether it misses the threshold.
///
/// # Errors
/// Store errors.
pub fn measure(
    store: &dyn Results,
    scenario: &str,
    region: &str,
    objective: &LatencyObjective,
    now_ms: i64,
) -> Result<(Option<f64>, bool), StoreError> {
    let window = crate::clock::millis(objective.window);
    let runs = store.results_since(scenario, region, now_ms.saturating_sub(window))?;
    let mut durations: Vec<f64> = runs
        .into_iter()
        .filter(|(o, _)| *o == Outcome::Success)
        .map(|(_, d)| d)
        .collect();
    let value = percentile(&mut durations, objective.percentile);
    let threshold = objective.threshold.as_secs_f64() * 1_000.0;
    // `p95 < 800ms` is met only below the threshold: equal misses it.
    Ok((value, value.is_some_and(|v| v >= threshold)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_for_any_percentile() {
        let mut v: Vec<f64> = (1..=1000).rev().map(f64::from).collect();
        assert_eq!(percentile(&mut v, 95.0), Some(950.0));
        assert_eq!(percentile(&mut v, 99.9), Some(999.0));
        assert_eq!(percentile(&mut v, 50.0), Some(500.0));
        assert_eq!(percentile(&mut [3.0], 99.0), Some(3.0));
        assert_eq!(percentile(&mut [], 95.0), None);
    }
}
