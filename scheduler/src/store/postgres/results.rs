//! The `results` table (partitioned by day) and `result_ids`.

use std::collections::{BTreeSet, HashSet};

use postgres::types::ToSql;
use scenarios::wire::{Outcome, RunResult};

use super::conn::limit;
use super::{Conn, partitions};
use crate::alert::slo::Counts;
use crate::store::StoreError;
use crate::store::results::{DAY_MS, DayCounts, LastRun, ResultRow, Results};

impl Results for Conn {
    fn insert_results(
        &self,
        rows: &mut dyn Iterator<Item = &ResultRow>,
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let rows: Vec<&ResultRow> = rows.collect();
        let days: BTreeSet<i64> = rows
            .iter()
            .map(|r| partitions::day_of(r.started_at))
            .collect();
        partitions::ensure(self, &days)?;
        // Concurrent batches that share ids take their row locks in one
        // order (by id), so they wait for each other and never deadlock.
        let mut sorted: Vec<&ResultRow> = rows.clone();
        sorted.sort_by_key(|r| r.id);
        let ids: Vec<uuid::Uuid> = sorted.iter().map(|r| r.id).collect();
        let starts: Vec<i64> = sorted.iter().map(|r| r.started_at).collect();
        let claimed = self.query(
            "INSERT INTO result_ids (id, started_at)
             SELECT id, started_at FROM unnest($1::UUID[], $2::BIGINT[])
                 WITH ORDINALITY AS u (id, started_at, n)
             ORDER BY n
             ON CONFLICT (id) DO NOTHING RETURNING id",
            &[&ids, &starts],
        )?;
        let mut claimed: HashSet<uuid::Uuid> = claimed
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?;
        // The first of the batch's rows with a new id is the one stored.
        let inserted: Vec<bool> = rows.iter().map(|r| claimed.remove(&r.id)).collect();
        let new: Vec<&ResultRow> = rows
            .iter()
            .zip(&inserted)
            .filter(|(_, new)| **new)
            .map(|(r, _)| *r)
            .collect();
        if !new.is_empty() {
            insert_rows(self, &new, now_ms)?;
        }
        Ok(inserted)
    }

    fn count_results(&self) -> Result<i64, StoreError> {
        Ok(self
            .query_one("SELECT COUNT(*) FROM results", &[])?
            .try_get(0)?)
    }

    fn recent_results(
        &self,
        scenario: &str,
        region: Option<&str>,
        n: usize,
    ) -> Result<Vec<RunResult>, StoreError> {
        let rows = match region {
            Some(region) => self.query(
                "SELECT result_json FROM results WHERE scenario = $1 AND region = $2
                 ORDER BY started_at DESC, id DESC LIMIT $3",
                &[&scenario, &region, &limit(n)],
            )?,
            None => self.query(
                "SELECT result_json FROM results WHERE scenario = $1
                 ORDER BY started_at DESC, id DESC LIMIT $2",
                &[&scenario, &limit(n)],
            )?,
        };
        rows.iter()
            .map(|row| parse(&row.try_get::<_, String>(0)?))
            .collect()
    }

    fn results_since(
        &self,
        scenario: &str,
        region: &str,
        since_ms: i64,
    ) -> Result<Vec<(Outcome, f64)>, StoreError> {
        let rows = self.query(
            "SELECT outcome, duration_ms FROM results
             WHERE scenario = $1 AND region = $2 AND started_at >= $3",
            &[&scenario, &region, &since_ms],
        )?;
        rows.iter()
            .map(|row| {
                let outcome: String = row.try_get(0)?;
                Ok((outcome_of(&outcome)?, row.try_get::<_, f64>(1)?))
            })
            .collect()
    }

    fn successful_runs_since(
        &self,
        scenario: &str,
        region: &str,
        since_ms: i64,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let rows = self.query(
            "SELECT started_at, duration_ms FROM results
             WHERE scenario = $1 AND region = $2 AND started_at >= $3 AND outcome = 'success'
             ORDER BY started_at",
            &[&scenario, &region, &since_ms],
        )?;
        rows.iter()
            .map(|row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, f64>(1)?)))
            .collect()
    }

    fn last_result(&self, scenario: &str, region: &str) -> Result<Option<LastRun>, StoreError> {
        let row = self.query_opt(
            "SELECT outcome, started_at, probe FROM results
             WHERE scenario = $1 AND region = $2 ORDER BY started_at DESC LIMIT 1",
            &[&scenario, &region],
        )?;
        match row {
            Some(row) => Ok(Some(LastRun {
                outcome: outcome_of(&row.try_get::<_, String>(0)?)?,
                started_at: row.try_get(1)?,
                probe: row.try_get(2)?,
            })),
            None => Ok(None),
        }
    }

    fn for_each_result(&self, each: &mut dyn FnMut(RunResult)) -> Result<usize, StoreError> {
        let mut damaged = 0;
        self.for_each(
            "SELECT result_json FROM results ORDER BY started_at",
            &[],
            &mut |row| {
                let json: &str = row.try_get(0)?;
                match serde_json::from_str(json) {
                    Ok(result) => each(result),
                    Err(_) => damaged += 1,
                }
                Ok(())
            },
        )?;
        Ok(damaged)
    }

    fn outcome_counts(
        &self,
        scenario: &str,
        until_ms: i64,
        since: &[i64],
    ) -> Result<Vec<Counts>, StoreError> {
        let oldest = since.iter().copied().min().unwrap_or(until_ms);
        let counts: Vec<String> = (0..since.len())
            .map(|i| {
                let p = i + 3;
                format!(
                    "COUNT(*) FILTER (WHERE started_at > ${p}), \
                     COUNT(*) FILTER (WHERE started_at > ${p} AND outcome <> 'success')"
                )
            })
            .collect();
        // A failed attempt followed by a stored retry is not a last attempt;
        // the partial index on (retry_of, attempt) answers that per failure.
        let sql = format!(
            "SELECT {} FROM results AS r
             WHERE scenario = $1 AND started_at <= $2 AND started_at > ${}
               AND NOT slo_excluded
               AND (outcome = 'success' OR NOT EXISTS (
                 SELECT 1 FROM results AS next
                 WHERE next.retry_of = COALESCE(r.retry_of, r.id) AND next.attempt = r.attempt + 1))",
            counts.join(", "),
            since.len() + 3
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&scenario, &until_ms];
        params.extend(since.iter().map(|s| s as &(dyn ToSql + Sync)));
        params.push(&oldest);
        if since.is_empty() {
            return Ok(Vec::new());
        }
        let row = self.query_one(&sql, &params)?;
        (0..since.len())
            .map(|i| {
                Ok(Counts {
                    total: u64::try_from(row.try_get::<_, i64>(2 * i)?).unwrap_or(0),
                    failed: u64::try_from(row.try_get::<_, i64>(2 * i + 1)?).unwrap_or(0),
                })
            })
            .collect()
    }

    fn daily_counts(
        &self,
        scenario: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<DayCounts>, StoreError> {
        // The bounds on started_at (the partition key, constants here)
        // let the planner read only the span's day partitions.
        let sql = "SELECT scenario, region, started_at / $3 AS day,
                    COUNT(*) FILTER (WHERE NOT slo_excluded),
                    COUNT(*) FILTER (WHERE NOT slo_excluded AND outcome <> 'success'),
                    COUNT(*) FILTER (WHERE slo_excluded)
             FROM results AS r
             WHERE started_at >= $1 AND started_at < $2
               AND ($4::TEXT IS NULL OR scenario = $4)
               AND (outcome = 'success' OR NOT EXISTS (
                 SELECT 1 FROM results AS next
                 WHERE next.retry_of = COALESCE(r.retry_of, r.id) AND next.attempt = r.attempt + 1))
             GROUP BY scenario, region, day
             ORDER BY scenario, region, day";
        let from_ms = from_ms.max(0);
        let rows = self.query(sql, &[&from_ms, &to_ms, &DAY_MS, &scenario])?;
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        rows.iter()
            .map(|row| {
                Ok(DayCounts {
                    scenario: row.try_get(0)?,
                    region: row.try_get(1)?,
                    day: row.try_get(2)?,
                    runs: count(row.try_get(3)?),
                    failed: count(row.try_get(4)?),
                    excluded: count(row.try_get(5)?),
                })
            })
            .collect()
    }

    fn first_run_at(&self, scenario: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .query_one(
                "SELECT MIN(started_at) FROM results WHERE scenario = $1",
                &[&scenario],
            )?
            .try_get(0)?)
    }

    fn delete_results_before(&self, cutoff_ms: i64, n: usize) -> Result<usize, StoreError> {
        super::retention::delete_results_before(self, cutoff_ms, n)
    }
}

/// One statement for the whole batch: a column per array.
fn insert_rows(conn: &Conn, rows: &[&ResultRow], now_ms: i64) -> Result<(), StoreError> {
    let column = |f: &dyn Fn(&ResultRow) -> &str| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    let (scenario, region) = (column(&|r| &r.scenario), column(&|r| &r.region));
    let (probe, version) = (column(&|r| &r.probe), column(&|r| &r.version));
    let json = column(&|r| &r.result_json);
    let outcome = column(&|r| r.outcome.as_str());
    let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.id).collect();
    let scheduled: Vec<i64> = rows.iter().map(|r| r.scheduled_at).collect();
    let started: Vec<i64> = rows.iter().map(|r| r.started_at).collect();
    let duration: Vec<f64> = rows.iter().map(|r| r.duration_ms).collect();
    let run_request: Vec<Option<&str>> = rows.iter().map(|r| r.run_request.as_deref()).collect();
    let excluded: Vec<bool> = rows.iter().map(|r| r.slo_excluded).collect();
    let attempt: Vec<i64> = rows.iter().map(|r| i64::from(r.attempt)).collect();
    let retry_of: Vec<Option<uuid::Uuid>> = rows.iter().map(|r| r.retry_of).collect();
    conn.execute(
        "INSERT INTO results (id, scenario, region, probe, version, scheduled_at, started_at,
            duration_ms, outcome, run_request, result_json, ingested_at, slo_excluded, attempt,
            retry_of)
         SELECT id, scenario, region, probe, version, scheduled_at, started_at, duration_ms,
            outcome, run_request, result_json, $12, slo_excluded, attempt, retry_of
         FROM unnest($1::UUID[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[],
            $7::BIGINT[], $8::DOUBLE PRECISION[], $9::TEXT[], $10::TEXT[], $11::TEXT[],
            $13::BOOLEAN[], $14::BIGINT[], $15::UUID[])
            AS u (id, scenario, region, probe, version, scheduled_at, started_at, duration_ms,
                  outcome, run_request, result_json, slo_excluded, attempt, retry_of)",
        &[
            &ids,
            &scenario,
            &region,
            &probe,
            &version,
            &scheduled,
            &started,
            &duration,
            &outcome,
            &run_request,
            &json,
            &now_ms,
            &excluded,
            &attempt,
            &retry_of,
        ],
    )?;
    Ok(())
}

fn parse(json: &str) -> Result<RunResult, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("stored result: {e}")))
}

fn outcome_of(s: &str) -> Result<Outcome, StoreError> {
    Outcome::ALL
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown outcome `{s}`")))
}
