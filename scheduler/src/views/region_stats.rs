//! What the store says about one scenario in one region: last run,
//! success ratio and duration percentiles over a window.

use chrono::{DateTime, Utc};
use scenarios::wire::Outcome;
use serde::Serialize;

use crate::store::{Results, StoreError};

/// Duration percentiles in milliseconds (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

/// What the store says about one scenario in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionStats {
    /// Outcome of the newest run, ever.
    pub last_outcome: Option<Outcome>,
    /// When the newest run started (RFC 3339).
    pub last_run_at: Option<String>,
    /// The probe that ran it.
    pub last_probe: Option<String>,
    /// Runs that started within the window.
    pub runs: usize,
    /// Share of those that succeeded; `null` without runs.
    pub success_ratio: Option<f64>,
    /// Percentiles of their whole-run durations; `null` without runs.
    pub duration_ms: Option<Percentiles>,
}

/// Nearest-rank percentiles of `values` (sorted here).
pub fn percentiles(values: &mut [f64]) -> Option<Percentiles> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let n = values.len() as f64;
        let i = ((p / 100.0) * n).ceil() as usize;
        values[i.clamp(1, values.len()) - 1]
    };
    Some(Percentiles {
        p50: rank(50.0),
        p95: rank(95.0),
        p99: rank(99.0),
    })
}

/// The stats of `scenario` in `region` over runs since `since`.
///
/// # Errors
/// Store errors.
pub fn region_stats(
    store: &dyn Results,
    scenario: &str,
    region: &str,
    since: DateTime<Utc>,
) -> Result<RegionStats, StoreError> {
    let runs = store.results_since(scenario, region, since.timestamp_millis())?;
    let last = store.last_result(scenario, region)?;
    let ok = runs.iter().filter(|(o, _)| *o == Outcome::Success).count();
    let mut durations: Vec<f64> = runs.iter().map(|(_, d)| *d).collect();
    Ok(RegionStats {
        last_outcome: last.as_ref().map(|l| l.outcome),
        last_run_at: last
            .as_ref()
            .and_then(|l| DateTime::from_timestamp_millis(l.started_at))
            .map(|t| scenarios::wire::time::format(&t)),
        last_probe: last.map(|l| l.probe),
        runs: runs.len(),
        success_ratio: (!runs.is_empty()).then(|| ok as f64 / runs.len() as f64),
        duration_ms: percentiles(&mut durations),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = percentiles(&mut v).expect("values");
        assert_eq!((p.p50, p.p95, p.p99), (50.0, 95.0, 99.0));
        let mut one = vec![7.0];
        let p = percentiles(&mut one).expect("values");
        assert_eq!((p.p50, p.p99), (7.0, 7.0));
        assert_eq!(percentiles(&mut []), None);
    }
}
