//! Latency anomalies (`[alert] anomaly`): a scenario's latency in one
//! region judged against a baseline learned from its own history, not a
//! fixed threshold. Pure: the caller reads the successful runs from the
//! store (`docs/alerting.md`, "Latency anomalies", has every number).
//!
//! - The baseline is the median and the MAD (scaled by 1.4826, so it
//!   estimates a standard deviation) of the durations in [`WINDOW`], at
//!   most [`MAX_RUNS`] of them, leaving out the [`JUDGED`] newest runs so
//!   that what is judged never judges itself. Once the history spans a
//!   week, runs in the same hour of the week (± [`SLOT_HALF_WIDTH`]) over
//!   the past [`SEASON_WEEKS`] weeks form the baseline instead, when that
//!   slot holds `min_runs` of them.
//! - While an anomaly is firing the baseline is taken from the runs before
//!   it started, so a slowdown does not quickly become the new normal;
//!   after [`WINDOW`] of firing it does, and the alert resolves.
//! - Failed runs are left out: they are the regional alerts' business.

use std::time::Duration;

use scenarios::model::AnomalyPolicy;

/// How far back the overall baseline reaches.
pub const WINDOW: Duration = Duration::from_secs(7 * 86_400);
/// The newest runs of the window the overall baseline keeps at most.
pub const MAX_RUNS: usize = 2_016;
/// How many weeks back the hour-of-week baseline looks.
pub const SEASON_WEEKS: i64 = 4;
/// Runs within this of the same hour of the week count in its slot.
pub const SLOT_HALF_WIDTH: Duration = Duration::from_secs(3_600);
/// The newest runs judged: an anomaly fires when [`FIRE_AFTER`] of them
/// are above the band.
pub const JUDGED: usize = 5;
pub const FIRE_AFTER: usize = 3;
/// A firing anomaly resolves when this many newest runs are within the band.
pub const RESOLVE_AFTER: usize = 3;
/// Scales the MAD to estimate a standard deviation of normal data.
pub const MAD_SCALE: f64 = 1.4826;
/// The spread is never taken below this share of the median, nor below
/// [`FLOOR_MIN_MS`]: a near-constant series would otherwise alert on a
/// millisecond of noise.
pub const FLOOR_RATIO: f64 = 0.05;
pub const FLOOR_MIN_MS: f64 = 1.0;

const WEEK_MS: i64 = 7 * 86_400_000;
/// Only how far apart, so any Monday works: 1970-01-05 00:00 UTC.
const EPOCH_MONDAY_MS: i64 = 4 * 86_400_000;

/// One successful run: when it started (Unix ms) and how long it took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub started_ms: i64,
    pub duration_ms: f64,
}

/// What normal latency looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Baseline {
    pub median_ms: f64,
    /// MAD × [`MAD_SCALE`], before the floor.
    pub spread_ms: f64,
    /// Runs it was learned from.
    pub runs: usize,
    /// Learned from the same hour of the week rather than the whole window.
    pub seasonal: bool,
}

impl Baseline {
    /// The spread the band uses: never below the floor.
    pub fn floored_spread_ms(&self) -> f64 {
        self.spread_ms
            .max(self.median_ms * FLOOR_RATIO)
            .max(FLOOR_MIN_MS)
    }

    /// Durations above this are anomalous.
    pub fn upper_ms(&self, sensitivity: f64) -> f64 {
        self.median_ms + sensitivity * self.floored_spread_ms()
    }
}

/// The judgement of one scenario × region.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub baseline: Baseline,
    /// The median of the judged runs.
    pub recent_p50_ms: f64,
    /// The judged runs (at most [`JUDGED`]) and how many are above the band.
    pub judged: usize,
    pub anomalous: usize,
    pub firing: bool,
}

/// Judges the newest runs of `history` (successful runs, oldest first)
/// at `now_ms`. `firing_since` is when the open anomaly alert started,
/// if one is open: the baseline then ends there. `None` when there is not
/// yet `min_runs` of history to judge by.
pub fn judge(
    history: &[Sample],
    now_ms: i64,
    policy: &AnomalyPolicy,
    firing_since: Option<i64>,
) -> Option<Verdict> {
    let judged_from = history.len().saturating_sub(JUDGED);
    let (past, recent) = history.split_at(judged_from);
    if recent.is_empty() {
        return None;
    }
    // Frozen for at most a window: a slowdown that lasts a week is the
    // new normal, learned like any other history.
    let frozen =
        firing_since.filter(|since| now_ms.saturating_sub(*since) < crate::clock::millis(WINDOW));
    let past: Vec<Sample> = match frozen {
        Some(since) => past
            .iter()
            .copied()
            .filter(|s| s.started_ms < since)
            .collect(),
        None => past.to_vec(),
    };
    let until = frozen.unwrap_or(now_ms);
    let baseline = baseline_at(&past, until, now_ms, policy.min_runs as usize)?;
    let upper = baseline.upper_ms(policy.sensitivity);
    let above: Vec<bool> = recent.iter().map(|s| s.duration_ms > upper).collect();
    let anomalous = above.iter().filter(|a| **a).count();
    let firing = if firing_since.is_some() {
        // Resolved only when the newest runs are all back within the band.
        let newest = &above[above.len().saturating_sub(RESOLVE_AFTER)..];
        !(newest.len() == RESOLVE_AFTER && newest.iter().all(|a| !a))
    } else {
        anomalous >= FIRE_AFTER
    };
    let mut durations: Vec<f64> = recent.iter().map(|s| s.duration_ms).collect();
    Some(Verdict {
        baseline,
        recent_p50_ms: median(&mut durations),
        judged: recent.len(),
        anomalous,
        firing,
    })
}

/// The baseline from `past` (oldest first), for runs around `now_ms`,
/// with the window ending at `until_ms`.
fn baseline_at(past: &[Sample], until_ms: i64, now_ms: i64, min_runs: usize) -> Option<Baseline> {
    let span_week = past
        .first()
        .is_some_and(|first| now_ms.saturating_sub(first.started_ms) >= WEEK_MS);
    if span_week {
        let slot: Vec<f64> = past
            .iter()
            .filter(|s| {
                until_ms.saturating_sub(s.started_ms) <= SEASON_WEEKS * WEEK_MS
                    && same_hour_of_week(s.started_ms, now_ms)
            })
            .map(|s| s.duration_ms)
            .collect();
        if slot.len() >= min_runs {
            return Some(robust(slot, true));
        }
    }
    let window_start = until_ms.saturating_sub(crate::clock::millis(WINDOW));
    let recent: Vec<f64> = past
        .iter()
        .filter(|s| s.started_ms >= window_start)
        .map(|s| s.duration_ms)
        .collect();
    let newest = recent[recent.len().saturating_sub(MAX_RUNS)..].to_vec();
    (newest.len() >= min_runs).then(|| robust(newest, false))
}

/// Whether `a` and `b` are within [`SLOT_HALF_WIDTH`] of each other's
/// hour of the week (across the week's wrap too).
fn same_hour_of_week(a: i64, b: i64) -> bool {
    let at = |ms: i64| (ms - EPOCH_MONDAY_MS).rem_euclid(WEEK_MS);
    let d = (at(a) - at(b)).abs();
    d.min(WEEK_MS - d) <= crate::clock::millis(SLOT_HALF_WIDTH)
}

fn robust(mut values: Vec<f64>, seasonal: bool) -> Baseline {
    let runs = values.len();
    let median_ms = median(&mut values);
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - median_ms).abs()).collect();
    Baseline {
        median_ms,
        spread_ms: median(&mut deviations) * MAD_SCALE,
        runs,
        seasonal,
    }
}

/// The median (the mean of the two middle values of an even count); 0 for
/// none.
fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const POLICY: AnomalyPolicy = AnomalyPolicy {
        sensitivity: 3.0,
        min_runs: 50,
        severity: scenarios::model::Severity::Warning,
    };

    /// One run every 5 minutes ending now, durations from `f(i)`.
    fn series(n: usize, now: i64, f: impl Fn(usize) -> f64) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                started_ms: now - (n - 1 - i) as i64 * 5 * MIN,
                duration_ms: f(i),
            })
            .collect()
    }

    /// Deterministic noise in -1..1.
    fn noise(i: usize) -> f64 {
        ((i * 7919 % 101) as f64 / 50.0) - 1.0
    }

    #[test]
    fn median_and_mad_resist_outliers() {
        let b = robust(vec![10.0, 11.0, 12.0, 13.0, 1_000.0], false);
        assert_eq!(b.median_ms, 12.0);
        assert!((b.spread_ms - MAD_SCALE).abs() < 1e-9, "{b:?}");
        assert_eq!(median(&mut [1.0, 3.0]), 2.0);
    }

    #[test]
    fn a_constant_series_has_a_floor() {
        let b = robust(vec![100.0; 60], false);
        assert_eq!(b.spread_ms, 0.0);
        assert_eq!(b.floored_spread_ms(), 5.0);
        assert_eq!(b.upper_ms(3.0), 115.0);
        let tiny = robust(vec![2.0; 60], false);
        assert_eq!(tiny.floored_spread_ms(), FLOOR_MIN_MS);
    }

    #[test]
    fn nothing_is_judged_before_min_runs() {
        let now = 1_800_000_000_000;
        let h = series(54, now, |_| 100.0);
        assert_eq!(judge(&h, now, &POLICY, None), None);
        let h = series(55, now, |_| 100.0);
        assert!(judge(&h, now, &POLICY, None).is_some());
    }

    #[test]
    fn three_of_five_slow_runs_fire_and_one_does_not() {
        let now = 1_800_000_000_000;
        let steady = |i: usize| 100.0 + 10.0 * noise(i);
        let one = series(300, now, |i| if i == 297 { 900.0 } else { steady(i) });
        let v = judge(&one, now, &POLICY, None).unwrap();
        assert_eq!((v.anomalous, v.firing), (1, false));
        let step = series(300, now, |i| if i >= 297 { 300.0 } else { steady(i) });
        let v = judge(&step, now, &POLICY, None).unwrap();
        assert_eq!((v.anomalous, v.firing), (3, true));
        assert!((v.baseline.median_ms - 100.0).abs() < 2.0, "{v:?}");
        assert_eq!(v.recent_p50_ms, 300.0);
    }

    #[test]
    fn a_firing_anomaly_keeps_its_baseline_and_resolves_on_three_good_runs() {
        let now = 1_800_000_000_000;
        // Slow for the newest 200 runs: long enough to move a rolling
        // median, not the one that ends when the alert started.
        let start = now - 210 * 5 * MIN;
        let h = series(400, now, |i| if i >= 200 { 300.0 } else { 100.0 });
        let v = judge(&h, now, &POLICY, Some(start)).unwrap();
        assert_eq!(v.baseline.median_ms, 100.0);
        assert!(v.firing);
        let back = series(400, now, |i| {
            if (200..397).contains(&i) {
                300.0
            } else {
                100.0
            }
        });
        assert!(!judge(&back, now, &POLICY, Some(start)).unwrap().firing);
        let two = series(400, now, |i| {
            if (200..398).contains(&i) {
                300.0
            } else {
                100.0
            }
        });
        assert!(judge(&two, now, &POLICY, Some(start)).unwrap().firing);
    }

    #[test]
    fn a_week_long_slowdown_becomes_the_new_normal() {
        let now = 1_800_000_000_000;
        let n = 8 * 288;
        let start = now - 7 * 288 * 5 * MIN - 5 * MIN;
        let h = series(n, now, |i| if i >= 288 { 300.0 } else { 100.0 });
        let v = judge(&h, now, &POLICY, Some(start)).unwrap();
        assert_eq!(v.baseline.median_ms, 300.0);
        assert!(!v.firing);
    }

    #[test]
    fn a_week_of_history_uses_the_same_hour_of_the_week() {
        let now = 1_800_000_000_000;
        // Busy hours are twice as slow; 15 days of it, one run in 5 minutes.
        let n = 15 * 288;
        let daily = |i: usize| {
            let at = now - (n - 1 - i) as i64 * 5 * MIN;
            let hour = (at / 3_600_000) % 24;
            if (9..17).contains(&hour) {
                200.0
            } else {
                100.0
            }
        };
        let h = series(n, now, |i| daily(i) + 5.0 * noise(i));
        let v = judge(&h, now, &POLICY, None).unwrap();
        assert!(v.baseline.seasonal, "{v:?}");
        let expected = daily(n - 1);
        assert!((v.baseline.median_ms - expected).abs() < 10.0, "{v:?}");
        assert!(!v.firing);
        assert!(same_hour_of_week(0, WEEK_MS - 1_000));
        assert!(!same_hour_of_week(0, 3 * 3_600_000));
    }
}
