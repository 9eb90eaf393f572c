//! A probe clock that runs ahead of the scheduler's. The alert engine
//! takes a region's newest run as its state and ignores older ones
//! (`alert::state`), so one run stamped in the future would hide every
//! real run after it, even across restarts. Ingest refuses such results
//! (`max_clock_skew`) and the probe gets an alert naming how far ahead
//! its clock is.

use chrono::{DateTime, Utc};

/// How far `started_at` is ahead of `now`, when that is more than `max`.
pub fn too_far_ahead(
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
    max: std::time::Duration,
) -> Option<chrono::Duration> {
    let ahead = started_at.signed_duration_since(now);
    let max = chrono::Duration::from_std(max).unwrap_or(chrono::Duration::MAX);
    (ahead > max).then_some(ahead)
}

/// The two largest units of `d`, truncated so that it never reads as more
/// than it is: `73y`, `2d 4h`, `1h 0m`, `1m 30s`, `45s`.
pub fn human(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    let (day, hour, minute) = (86_400, 3_600, 60);
    if s >= 365 * day {
        format!("{}y", s / (365 * day))
    } else if s >= day {
        format!("{}d {}h", s / day, s % day / hour)
    } else if s >= hour {
        format!("{}h {}m", s / hour, s % hour / minute)
    } else if s >= minute {
        format!("{}m {}s", s / minute, s % minute)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
    }

    #[test]
    fn only_results_beyond_the_limit_are_too_far_ahead() {
        let now = at(2026, 12, 2, 12, 0, 0);
        let minute = std::time::Duration::from_secs(60);
        assert_eq!(too_far_ahead(now, now, minute), None);
        assert_eq!(too_far_ahead(at(2026, 12, 2, 12, 1, 0), now, minute), None);
        assert_eq!(too_far_ahead(at(2026, 12, 2, 11, 0, 0), now, minute), None);
        assert_eq!(
            too_far_ahead(at(2026, 12, 2, 13, 0, 0), now, minute),
            Some(chrono::Duration::hours(1))
        );
    }

    #[test]
    fn human_shows_two_units_and_never_rounds_up() {
        let h = |s: i64| human(chrono::Duration::seconds(s));
        assert_eq!(h(45), "45s");
        assert_eq!(h(90), "1m 30s");
        assert_eq!(h(3_600), "1h 0m");
        assert_eq!(h(3_600 + 59 * 60 + 59), "1h 59m");
        assert_eq!(h(2 * 86_400 + 4 * 3_600), "2d 4h");
        let year_2099 = at(2099, 1, 1, 0, 0, 0) - at(2026, 1, 1, 0, 0, 0);
        assert_eq!(human(year_2099), "73y");
    }
}
