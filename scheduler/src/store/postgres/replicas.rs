//! The `replicas` table (migration 3).

use super::Conn;
use crate::store::StoreError;
use crate::store::replicas::{ReplicaRow, Replicas};

impl Replicas for Conn {
    fn report_replica(&self, row: &ReplicaRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO replicas (name, catalog_version, catalog_errors, seen_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET catalog_version = excluded.catalog_version,
                 catalog_errors = excluded.catalog_errors, seen_at = excluded.seen_at",
            &[
                &row.name,
                &row.catalog_version,
                &row.catalog_errors,
                &row.seen_at,
            ],
        )?;
        Ok(())
    }

    fn replicas(&self) -> Result<Vec<ReplicaRow>, StoreError> {
        let rows = self.query(
            "SELECT name, catalog_version, catalog_errors, seen_at FROM replicas ORDER BY name",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(ReplicaRow {
                    name: r.try_get(0)?,
                    catalog_version: r.try_get(1)?,
                    catalog_errors: r.try_get(2)?,
                    seen_at: r.try_get(3)?,
                })
            })
            .collect()
    }
}
