//! The `probes` table.

use super::Conn;
use crate::store::StoreError;
use crate::store::probes::{ProbeRow, Probes};

impl Probes for Conn {
    fn upsert_probe(&self, p: &ProbeRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO probes (name, region, first_seen, last_seen, version, spool_depth,
                plan_hash, plan_revision)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (name) DO UPDATE SET
                region = excluded.region,
                last_seen = GREATEST(probes.last_seen, excluded.last_seen),
                version = COALESCE(excluded.version, probes.version),
                spool_depth = COALESCE(excluded.spool_depth, probes.spool_depth),
                plan_hash = COALESCE(excluded.plan_hash, probes.plan_hash),
                plan_revision = GREATEST(probes.plan_revision, excluded.plan_revision)",
            &[
                &p.name,
                &p.region,
                &p.first_seen,
                &p.last_seen,
                &p.version,
                &p.spool_depth,
                &p.plan_hash,
                &p.plan_revision,
            ],
        )?;
        Ok(())
    }

    fn probes(&self) -> Result<Vec<ProbeRow>, StoreError> {
        let rows = self.query(
            "SELECT name, region, first_seen, last_seen, version, spool_depth, plan_hash,
                plan_revision FROM probes ORDER BY name",
            &[],
        )?;
        rows.iter()
            .map(|row| {
                Ok(ProbeRow {
                    name: row.try_get(0)?,
                    region: row.try_get(1)?,
                    first_seen: row.try_get(2)?,
                    last_seen: row.try_get(3)?,
                    version: row.try_get(4)?,
                    spool_depth: row.try_get(5)?,
                    plan_hash: row.try_get(6)?,
                    plan_revision: row.try_get(7)?,
                })
            })
            .collect()
    }
}
