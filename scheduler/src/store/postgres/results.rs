//! The `results` table (partitioned by day) and `result_ids`.

use std::collections::BTreeSet;

use postgres::types::ToSql;
use scenarios::wire::{Outcome, RunResult};

use super::conn::limit;
use super::{Conn, partitions};
use crate::alert::slo::Counts;
use crate::store::StoreError;
use crate::store::results::{LastRun, ResultRow, Results};

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
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i].id);
        let mut inserted = vec![false; rows.len()];
        for i in order {
            let r = rows[i];
            let new = self.execute(
                "INSERT INTO result_ids (id, started_at) VALUES ($1, $2)
                 ON CONFLICT (id) DO NOTHING",
                &[&r.id, &r.started_at],
            )? == 1;
            if new {
                self.execute(
                    "INSERT INTO results (id, scenario, region, probe, version, scheduled_at,
                        started_at, duration_ms, outcome, run_request, result_json, ingested_at,
                        slo_excluded, attempt, retry_of)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                    &[
                        &r.id,
                        &r.scenario,
                        &r.region,
                        &r.probe,
                        &r.version,
                        &r.scheduled_at,
                        &r.started_at,
                        &r.duration_ms,
                        &r.outcome.as_str(),
                        &r.run_request,
                        &r.result_json,
                        &now_ms,
                        &r.slo_excluded,
                        &i64::from(r.attempt),
                        &r.retry_of,
                    ],
                )?;
            }
            inserted[i] = new;
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

fn parse(json: &str) -> Result<RunResult, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("stored result: {e}")))
}

fn outcome_of(s: &str) -> Result<Outcome, StoreError> {
    Outcome::ALL
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown outcome `{s}`")))
}
