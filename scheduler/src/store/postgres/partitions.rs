//! `results` is partitioned by UTC day of `started_at`: one table
//! `results_pYYYYMMDD` per day, made the first time a result of that day
//! is written (and for the days around now when the store opens), so
//! retention drops whole days instead of deleting rows one by one.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate};

use super::{Conn, StoreError};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// Held while a partition is made, so two writers never make the same
/// one at once (any fixed number: "sondp" in ASCII).
const PARTITION_LOCK: i64 = 0x0073_6f6e_6470;
/// Partition names: this prefix and the day, `%Y%m%d`.
const PREFIX: &str = "results_p";

/// The UTC day (days since 1970-01-01) of `ms`.
pub(super) fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// The partition holding `day`.
pub(super) fn name(day: i64) -> String {
    let date = DateTime::from_timestamp_millis(day * DAY_MS).map(|t| t.date_naive());
    match date {
        Some(date) => format!("{PREFIX}{}", date.format("%Y%m%d")),
        None => format!("{PREFIX}day{day}"),
    }
}

/// The day a partition named `relname` holds.
fn day_of_name(relname: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(relname.strip_prefix(PREFIX)?, "%Y%m%d").ok()?;
    let start = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(day_of(start))
}

/// Makes the partitions of `days` that are missing; inside the caller's
/// transaction, which holds [`PARTITION_LOCK`] until it ends if it made
/// one.
pub(super) fn ensure(conn: &Conn, days: &BTreeSet<i64>) -> Result<(), StoreError> {
    let mut locked = false;
    for &day in days {
        let name = name(day);
        let exists: bool = conn
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&quoted(&name)])?
            .try_get(0)?;
        if exists {
            continue;
        }
        if !locked {
            conn.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])?;
            locked = true;
        }
        conn.batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF results FOR VALUES FROM ({}) TO ({})",
            quoted(&name),
            day * DAY_MS,
            (day + 1) * DAY_MS
        ))?;
        tracing::info!(partition = %name, "Results partition made.");
    }
    Ok(())
}

/// Makes the partitions of yesterday, today and the next two days, in a
/// transaction of its own.
pub(super) fn around(conn: &Conn, now_ms: i64) -> Result<(), StoreError> {
    let today = day_of(now_ms);
    let days = (today - 1..=today + 2).collect();
    conn.batch("BEGIN")?;
    match ensure(conn, &days) {
        Ok(()) => conn.batch("COMMIT"),
        Err(e) => {
            let _ = conn.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Every partition of `results` with its day, oldest first.
pub(super) fn all(conn: &Conn) -> Result<Vec<(i64, String)>, StoreError> {
    let rows = conn.query(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'results'::regclass",
        &[],
    )?;
    let mut out = Vec::new();
    for row in rows {
        let relname: String = row.try_get(0)?;
        if let Some(day) = day_of_name(&relname) {
            out.push((day, relname));
        }
    }
    out.sort();
    Ok(out)
}

/// Drops the partitions whose whole day is before `cutoff_ms`; returns
/// how many.
pub(super) fn drop_before(conn: &Conn, cutoff_ms: i64) -> Result<usize, StoreError> {
    let mut dropped = 0;
    for (day, relname) in all(conn)? {
        if (day + 1) * DAY_MS <= cutoff_ms {
            conn.batch(&format!("DROP TABLE {}", quoted(&relname)))?;
            tracing::info!(partition = %relname, "Results partition dropped.");
            dropped += 1;
        }
    }
    Ok(dropped)
}

/// `name` as an SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_name_gives_back_its_day() {
        let ms = 1_764_633_600_000 + 5; // 2025-12-02T00:00:00.005Z
        let day = day_of(ms);
        assert_eq!(name(day), "results_p20251202");
        assert_eq!(day_of_name(&name(day)), Some(day));
        assert_eq!(day_of(-1), -1, "before 1970 still has a day");
        assert_eq!(day_of_name("results_default"), None);
    }
}
