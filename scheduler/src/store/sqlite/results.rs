//! The `results` table.

use rusqlite::{Connection, OptionalExtension, params};
use scenarios::wire::{Outcome, RunResult};

use super::stored_json;
use crate::alert::slo::Counts;
use crate::store::StoreError;
use crate::store::results::{DAY_MS, DayCounts, LastRun, ResultRow, Results};

impl Results for Connection {
    fn insert_results(
        &self,
        rows: &mut dyn Iterator<Item = &ResultRow>,
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let mut stmt = self.prepare_cached(
            "INSERT OR IGNORE INTO results (id, scenario, region, probe, version, scheduled_at,
                started_at, duration_ms, outcome, run_request, result_json, ingested_at,
                slo_excluded, attempt, retry_of, result_lz4)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, '', ?11, ?12, ?13, ?14, ?15)",
        )?;
        let mut inserted = Vec::with_capacity(rows.size_hint().0);
        for r in rows {
            let changed = stmt.execute(params![
                r.id.as_bytes().as_slice(),
                r.scenario,
                r.region,
                r.probe,
                r.version,
                r.scheduled_at,
                r.started_at,
                r.duration_ms,
                r.outcome.as_str(),
                r.run_request,
                now_ms,
                r.slo_excluded,
                r.attempt,
                r.retry_of.as_ref().map(|id| id.as_bytes().as_slice()),
                stored_json::compress(&r.result_json)
            ])?;
            inserted.push(changed == 1);
        }
        Ok(inserted)
    }

    fn count_results(&self) -> Result<i64, StoreError> {
        Ok(self.query_row("SELECT COUNT(*) FROM results", [], |row| row.get(0))?)
    }

    fn recent_results(
        &self,
        scenario: &str,
        region: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RunResult>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Two statements, so each uses the (scenario, region, started_at) index.
        let (sql, region) = match region {
            Some(region) => (
                "SELECT result_json, result_lz4 FROM results WHERE scenario = ?1 AND region = ?2
                 ORDER BY started_at DESC, id DESC LIMIT ?3",
                region,
            ),
            None => (
                "SELECT result_json, result_lz4 FROM results WHERE scenario = ?1 AND ?2 = ''
                 ORDER BY started_at DESC, id DESC LIMIT ?3",
                "",
            ),
        };
        let mut stmt = self.prepare_cached(sql)?;
        let rows = stmt.query_map(params![scenario, region, limit], |row| {
            stored_json::columns(row, 0)
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (text, lz4) = row?;
            out.push(stored_json::parse(&text, lz4.as_deref())?);
        }
        Ok(out)
    }

    fn results_since(
        &self,
        scenario: &str,
        region: &str,
        since_ms: i64,
    ) -> Result<Vec<(Outcome, f64)>, StoreError> {
        let mut stmt = self.prepare_cached(
            "SELECT outcome, duration_ms FROM results
             WHERE scenario = ?1 AND region = ?2 AND started_at >= ?3",
        )?;
        let rows = stmt.query_map(params![scenario, region, since_ms], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, f64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (outcome, duration) = row?;
            out.push((outcome_of(&outcome)?, duration));
        }
        Ok(out)
    }

    fn successful_runs_since(
        &self,
        scenario: &str,
        region: &str,
        since_ms: i64,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let mut stmt = self.prepare_cached(
            "SELECT started_at, duration_ms FROM results
             WHERE scenario = ?1 AND region = ?2 AND started_at >= ?3 AND outcome = 'success'
             ORDER BY started_at",
        )?;
        let rows = stmt.query_map(params![scenario, region, since_ms], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, f64>(1)?))
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn last_result(&self, scenario: &str, region: &str) -> Result<Option<LastRun>, StoreError> {
        let row = self
            .prepare_cached(
                "SELECT outcome, started_at, probe FROM results
                 WHERE scenario = ?1 AND region = ?2 ORDER BY started_at DESC LIMIT 1",
            )?
            .query_row(params![scenario, region], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .optional()?;
        match row {
            Some((outcome, started_at, probe)) => Ok(Some(LastRun {
                outcome: outcome_of(&outcome)?,
                started_at,
                probe,
            })),
            None => Ok(None),
        }
    }

    fn for_each_result(&self, each: &mut dyn FnMut(RunResult)) -> Result<usize, StoreError> {
        let mut stmt =
            self.prepare("SELECT result_json, result_lz4 FROM results ORDER BY started_at")?;
        let mut rows = stmt.query([])?;
        let mut damaged = 0;
        while let Some(row) = rows.next()? {
            let (text, lz4) = stored_json::columns(row, 0)?;
            match stored_json::parse(&text, lz4.as_deref()) {
                Ok(result) => each(result),
                Err(_) => damaged += 1,
            }
        }
        Ok(damaged)
    }

    fn outcome_counts(
        &self,
        scenario: &str,
        until_ms: i64,
        since: &[i64],
    ) -> Result<Vec<Counts>, StoreError> {
        let oldest = since.iter().copied().min().unwrap_or(until_ms);
        let sums: Vec<String> = (0..since.len())
            .map(|i| {
                let p = i + 3;
                format!(
                    "COALESCE(SUM(started_at > ?{p}), 0), \
                     COALESCE(SUM(started_at > ?{p} AND outcome != 'success'), 0)"
                )
            })
            .collect();
        // A failed attempt followed by a stored retry is not a last attempt;
        // the partial index on (retry_of, attempt) answers that per failure.
        let sql = format!(
            "SELECT {} FROM results AS r WHERE scenario = ?1 AND started_at <= ?2 AND started_at > ?{}
               AND slo_excluded = 0
               AND (outcome = 'success' OR NOT EXISTS (
                 SELECT 1 FROM results AS next
                 WHERE next.retry_of = COALESCE(r.retry_of, r.id) AND next.attempt = r.attempt + 1))",
            sums.join(", "),
            since.len() + 3
        );
        let mut params: Vec<rusqlite::types::Value> =
            vec![scenario.to_owned().into(), until_ms.into()];
        params.extend(since.iter().map(|s| rusqlite::types::Value::from(*s)));
        params.push(oldest.into());
        let counts =
            self.prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(params), |row| {
                    (0..since.len())
                        .map(|i| {
                            Ok(Counts {
                                total: u64::try_from(row.get::<_, i64>(2 * i)?).unwrap_or(0),
                                failed: u64::try_from(row.get::<_, i64>(2 * i + 1)?).unwrap_or(0),
                            })
                        })
                        .collect()
                })?;
        Ok(counts)
    }

    fn daily_counts(
        &self,
        scenario: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<DayCounts>, StoreError> {
        // One scenario reads its (scenario, region, started_at) index;
        // every scenario reads the started_at one.
        let only = if scenario.is_some() {
            "AND scenario = ?4"
        } else {
            ""
        };
        let sql = format!(
            "SELECT scenario, region, started_at / ?3 AS day,
                    COALESCE(SUM(slo_excluded = 0), 0),
                    COALESCE(SUM(slo_excluded = 0 AND outcome != 'success'), 0),
                    COALESCE(SUM(slo_excluded != 0), 0)
             FROM results AS r
             WHERE started_at >= ?1 AND started_at < ?2 {only}
               AND (outcome = 'success' OR NOT EXISTS (
                 SELECT 1 FROM results AS next
                 WHERE next.retry_of = COALESCE(r.retry_of, r.id) AND next.attempt = r.attempt + 1))
             GROUP BY scenario, region, day
             ORDER BY scenario, region, day"
        );
        let mut params: Vec<rusqlite::types::Value> =
            vec![from_ms.max(0).into(), to_ms.into(), DAY_MS.into()];
        params.extend(scenario.map(|s| rusqlite::types::Value::from(s.to_owned())));
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        let mut stmt = self.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |row| {
            Ok(DayCounts {
                scenario: row.get(0)?,
                region: row.get(1)?,
                day: row.get(2)?,
                runs: count(row.get(3)?),
                failed: count(row.get(4)?),
                excluded: count(row.get(5)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn first_run_at(&self, scenario: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .prepare_cached("SELECT MIN(started_at) FROM results WHERE scenario = ?1")?
            .query_row(params![scenario], |row| row.get::<_, Option<i64>>(0))?)
    }

    fn delete_results_before(&self, cutoff_ms: i64, limit: usize) -> Result<usize, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Ok(self.execute(
            "DELETE FROM results WHERE rowid IN
               (SELECT rowid FROM results WHERE started_at < ?1 LIMIT ?2)",
            params![cutoff_ms, limit],
        )?)
    }
}

fn outcome_of(s: &str) -> Result<Outcome, StoreError> {
    Outcome::ALL
        .into_iter()
        .find(|o| o.as_str() == s)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown outcome `{s}`")))
}
