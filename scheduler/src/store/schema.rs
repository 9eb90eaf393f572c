//! The store's schema as numbered, forward-only migrations, recorded in
//! `schema_version`.

use rusqlite::{Connection, params};

use super::StoreError;

/// Each migration once, in order; never edit a released one, add another.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE results (
        id BLOB PRIMARY KEY,          -- the result's UUID, 16 bytes
        scenario TEXT NOT NULL,
        region TEXT NOT NULL,
        probe TEXT NOT NULL,
        version TEXT NOT NULL,        -- sha256: of the scenario that ran
        scheduled_at INTEGER NOT NULL, -- Unix milliseconds
        started_at INTEGER NOT NULL,   -- Unix milliseconds
        duration_ms REAL NOT NULL,
        outcome TEXT NOT NULL,        -- success | failure | timeout | error
        run_request TEXT,             -- the on-demand request answered
        result_json TEXT NOT NULL,    -- the whole RunResult
        ingested_at INTEGER NOT NULL  -- Unix milliseconds
    );
    CREATE INDEX results_by_scenario_region ON results (scenario, region, started_at);
    CREATE INDEX results_by_started_at ON results (started_at);
    CREATE TABLE probes (
        name TEXT PRIMARY KEY,
        region TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        version TEXT,
        spool_depth INTEGER,
        plan_hash TEXT,
        plan_revision INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        region TEXT,                  -- NULL for operator tokens
        kind TEXT NOT NULL CHECK (kind IN ('probe', 'operator')),
        sha256 TEXT NOT NULL UNIQUE,  -- lowercase hex; the token itself is never stored
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE INDEX tokens_by_name ON tokens (name);",
)];

/// The newest schema this build knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Brings the schema up to date; refuses a store from a newer scheduler.
///
/// # Errors
/// SQL errors, or [`StoreError::NewerSchema`].
pub fn migrate(conn: &mut Connection, now_ms: i64) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        );",
    )?;
    let current: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |row| row.get(0),
    )?;
    if current > latest() {
        return Err(StoreError::NewerSchema {
            found: current,
            known: latest(),
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            params![version, now_ms],
        )?;
        tx.commit()?;
        tracing::info!(version, "Store schema migrated.");
    }
    Ok(())
}
