//! The `replicas` table (migration 11).

use rusqlite::{Connection, params};

use crate::store::StoreError;
use crate::store::replicas::{ReplicaRow, Replicas};

impl Replicas for Connection {
    fn report_replica(&self, row: &ReplicaRow) -> Result<(), StoreError> {
        self.prepare_cached(
            "INSERT INTO replicas (name, catalog_version, catalog_errors, seen_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET catalog_version = excluded.catalog_version,
                 catalog_errors = excluded.catalog_errors, seen_at = excluded.seen_at",
        )?
        .execute(params![
            row.name,
            row.catalog_version,
            row.catalog_errors,
            row.seen_at
        ])?;
        Ok(())
    }

    fn replicas(&self) -> Result<Vec<ReplicaRow>, StoreError> {
        let mut stmt = self.prepare_cached(
            "SELECT name, catalog_version, catalog_errors, seen_at FROM replicas ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ReplicaRow {
                name: r.get(0)?,
                catalog_version: r.get(1)?,
                catalog_errors: r.get(2)?,
                seen_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
