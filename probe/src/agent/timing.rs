//! When runs are planned: interval slots at a stable per scenario × region
//! offset, aligned to the Unix epoch, and cron firings in the scenario's
//! time zone.
//!
//! The offset is a hash that is the same on every probe and every start
//! (SHA-256, not Rust's randomly keyed hasher), so after a restart a
//! scenario keeps its slot and a fleet's runs stay spread over the interval.

use std::time::Duration;

use chrono::{DateTime, Utc};
use scenarios::model::Schedule;
use sha2::{Digest, Sha256};

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// The offset of `scenario` in `region` within `period`, in `[0, period)`.
pub fn stable_offset(scenario: &str, region: &str, period: Duration) -> Duration {
    let digest = Sha256::new()
        .chain_update(scenario.as_bytes())
        .chain_update([0u8])
        .chain_update(region.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let period_nanos = period.as_nanos().max(1);
    let offset = u128::from(u64::from_be_bytes(first)) % period_nanos;
    Duration::from_nanos(u64::try_from(offset).unwrap_or(0))
}

/// The first instant strictly after `after` that lies `offset` past a
/// multiple of `period` since the epoch.
pub fn next_interval_slot(
    after: DateTime<Utc>,
    period: Duration,
    offset: Duration,
) -> Option<DateTime<Utc>> {
    let t =
        i128::from(after.timestamp()) * NANOS_PER_SEC + i128::from(after.timestamp_subsec_nanos());
    let p = i128::try_from(period.as_nanos()).ok()?.max(1);
    let o = i128::try_from(offset.as_nanos()).ok()? % p;
    let next = ((t - o).div_euclid(p) + 1) * p + o;
    let secs = i64::try_from(next.div_euclid(NANOS_PER_SEC)).ok()?;
    let nanos = u32::try_from(next.rem_euclid(NANOS_PER_SEC)).ok()?;
    DateTime::from_timestamp(secs, nanos)
}

/// The next planned run of `schedule` strictly after `after`; `None` when a
/// cron expression never fires again.
pub fn next_run(
    schedule: &Schedule,
    scenario: &str,
    region: &str,
    after: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match schedule {
        Schedule::Interval(period) => {
            next_interval_slot(after, *period, stable_offset(scenario, region, *period))
        }
        Schedule::Cron { cron, timezone, .. } => cron
            .find_next_occurrence(&after.with_timezone(timezone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
    }
}

/// Whether two schedules fire at the same instants.
pub fn same_schedule(a: &Schedule, b: &Schedule) -> bool {
    match (a, b) {
        (Schedule::Interval(x), Schedule::Interval(y)) => x == y,
        (
            Schedule::Cron {
                expr: e1,
                timezone: z1,
                ..
            },
            Schedule::Cron {
                expr: e2,
                timezone: z2,
                ..
            },
        ) => e1 == e2 && z1 == z2,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn offsets_are_stable_in_range_and_differ_by_region() {
        let p = Duration::from_secs(60);
        let a = stable_offset("checkout", "eu-west-1", p);
        assert_eq!(a, stable_offset("checkout", "eu-west-1", p));
        assert!(a < p);
        assert_ne!(a, stable_offset("checkout", "us-east-1", p));
    }

    #[test]
    fn slots_are_offset_multiples_of_the_period_strictly_after() {
        let p = Duration::from_secs(10);
        let o = Duration::from_millis(2_500);
        let t = at("2026-01-01T00:00:01Z");
        assert_eq!(
            next_interval_slot(t, p, o),
            Some(at("2026-01-01T00:00:02.500Z"))
        );
        let slot = at("2026-01-01T00:00:02.500Z");
        assert_eq!(
            next_interval_slot(slot, p, o),
            Some(at("2026-01-01T00:00:12.500Z"))
        );
    }
}
