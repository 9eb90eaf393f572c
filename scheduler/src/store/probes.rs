//! Registered probes: who they are and when they were last seen.

use rusqlite::{Connection, params};

use super::StoreError;

/// A probe as stored. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRow {
    pub name: String,
    pub region: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The probe's software version, when it told.
    pub version: Option<String>,
    /// Results waiting in its spool, when it told (`X-Sonde-Spool`).
    pub spool_depth: Option<i64>,
    /// Content hash of the plan it was last given.
    pub plan_hash: Option<String>,
    /// Grows with each change of its plan.
    pub plan_revision: i64,
}

/// Inserts or updates a probe; `first_seen` is kept and `last_seen` never
/// goes back.
///
/// # Errors
/// SQL errors.
pub fn upsert(conn: &Connection, p: &ProbeRow) -> Result<(), StoreError> {
    conn.prepare_cached(
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

/// Every registered probe, by name.
///
/// # Errors
/// SQL errors.
pub fn all(conn: &Connection) -> Result<Vec<ProbeRow>, StoreError> {
    let mut stmt = conn.prepare(
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
