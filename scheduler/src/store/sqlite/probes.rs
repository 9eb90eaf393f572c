//! The `probes` table.

use rusqlite::{Connection, params};

use crate::store::StoreError;
use crate::store::probes::{ProbeRow, Probes};

impl Probes for Connection {
    fn upsert_probe(&self, p: &ProbeRow) -> Result<(), StoreError> {
        self.prepare_cached(
            "INSERT INTO probes (name, region, first_seen, last_seen, version, spool_depth,
                plan_hash, plan_revision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (name) DO UPDATE SET
                region = excluded.region,
                last_seen = MAX(last_seen, excluded.last_seen),
                version = COALESCE(excluded.version, version),
                spool_depth = COALESCE(excluded.spool_depth, spool_depth),
                plan_hash = COALESCE(excluded.plan_hash, plan_hash),
                plan_revision = MAX(plan_revision, excluded.plan_revision)",
        )?
        .execute(params![
            p.name,
            p.region,
            p.first_seen,
            p.last_seen,
            p.version,
            p.spool_depth,
            p.plan_hash,
            p.plan_revision
        ])?;
        Ok(())
    }

    fn probes(&self) -> Result<Vec<ProbeRow>, StoreError> {
        let mut stmt = self.prepare(
            "SELECT name, region, first_seen, last_seen, version, spool_depth, plan_hash,
                plan_revision FROM probes ORDER BY name",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(ProbeRow {
                name: row.get(0)?,
                region: row.get(1)?,
                first_seen: row.get(2)?,
                last_seen: row.get(3)?,
                version: row.get(4)?,
                spool_depth: row.get(5)?,
                plan_hash: row.get(6)?,
                plan_revision: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
