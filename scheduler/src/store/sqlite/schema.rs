//! The store's schema as numbered, forward-only migrations, recorded in
//! `schema_version`.

use rusqlite::{Connection, params};

use super::StoreError;

/// Each migration once, in order; never edit a released one, add another.
const MIGRATIONS: &[(i64, &str)] = &[
    (
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
    ),
    (
        2,
        // The alert engine (`crate::alert`): per scenario × region state,
        // alerts with their timelines, silences, and the outbox of alert
        // events the notifiers deliver.
        "CREATE TABLE alert_state (
        scenario TEXT NOT NULL,
        region TEXT NOT NULL,
        health TEXT NOT NULL,          -- no_data | up | down
        fails INTEGER NOT NULL,        -- consecutive failed runs
        passes INTEGER NOT NULL,       -- consecutive good runs
        last_started INTEGER NOT NULL, -- Unix ms of the newest run seen
        last_id TEXT,                  -- its result id
        degraded INTEGER NOT NULL DEFAULT 0,
        latency_ms REAL,
        failure_json TEXT,             -- the newest failed run's details
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (scenario, region)
    );
    CREATE TABLE alerts (
        row_id INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL,              -- stable alert id, e.g. checkout/region/eu-west-1
        scope TEXT NOT NULL,
        scenario TEXT,
        regions TEXT NOT NULL,         -- JSON array
        probe TEXT,
        severity TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        grouped INTEGER NOT NULL DEFAULT 0,  -- under a global alert
        notified INTEGER NOT NULL DEFAULT 0, -- a firing event was emitted (muted or not)
        paged INTEGER NOT NULL DEFAULT 0,    -- an unmuted firing event was emitted
        muted INTEGER NOT NULL DEFAULT 0,    -- a silence matches it now
        confirm_request TEXT,
        confirm_at INTEGER,
        alert_json TEXT NOT NULL
    );
    CREATE UNIQUE INDEX alerts_open ON alerts (id) WHERE status = 'firing';
    CREATE INDEX alerts_by_ended_at ON alerts (ended_at);
    CREATE TABLE alert_timeline (
        alert_row INTEGER NOT NULL REFERENCES alerts (row_id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,            -- fired | grouped | confirm_requested | confirmed | muted | unmuted | resolved
        detail TEXT
    );
    CREATE INDEX alert_timeline_by_alert ON alert_timeline (alert_row, at);
    CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        scenario TEXT,
        region TEXT,
        labels TEXT NOT NULL,          -- JSON object
        starts_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        comment TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX silences_by_ends_at ON silences (ends_at);
    CREATE TABLE alert_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL,
        status TEXT NOT NULL,          -- firing | resolved
        event_json TEXT NOT NULL,      -- the AlertEvent
        muted INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );",
    ),
    (
        3,
        // The notifiers (`crate::alert::notify`): per `[[notify]]` entry a
        // cursor into `alert_events`, an outbox of what it must deliver
        // (with retry state), and the last state each alert was delivered
        // in (Alertmanager re-sends; routing resolves).
        "CREATE TABLE notify_cursors (
        notifier TEXT PRIMARY KEY,      -- kind-<hash of kind, url, routing key, match>
        last_event_id INTEGER NOT NULL, -- alert_events up to here are queued (or not for it)
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE notify_outbox (
        notifier TEXT NOT NULL,
        event_id INTEGER NOT NULL,      -- alert_events.id
        alert_id TEXT NOT NULL,
        status TEXT NOT NULL,           -- firing | resolved
        event_json TEXT NOT NULL,       -- the AlertEvent, copied
        state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        queued_at INTEGER NOT NULL,     -- Unix ms
        next_at INTEGER NOT NULL,       -- Unix ms of the next attempt
        done_at INTEGER,                -- Unix ms it left pending
        last_error TEXT,
        PRIMARY KEY (notifier, event_id)
    );
    CREATE INDEX notify_outbox_pending ON notify_outbox (notifier, state, next_at);
    CREATE INDEX notify_outbox_by_alert ON notify_outbox (notifier, alert_id, event_id);
    CREATE TABLE notify_delivered (
        notifier TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        status TEXT NOT NULL,           -- firing | resolved
        event_json TEXT NOT NULL,
        delivered_at INTEGER NOT NULL,  -- Unix ms
        PRIMARY KEY (notifier, alert_id)
    );",
    ),
    (
        4,
        // Confirmation runs still out (`crate::alert`): the fleet's queue
        // of on-demand runs lives in memory, so a restart re-queues these
        // (same request, same id) and the alert keeps waiting for them.
        "CREATE TABLE confirm_requests (
        id TEXT PRIMARY KEY,            -- the RunRequest's id (results carry it as run_request)
        alert_row INTEGER NOT NULL REFERENCES alerts (row_id) ON DELETE CASCADE,
        probe TEXT NOT NULL,            -- the probe asked to run it
        region TEXT NOT NULL,           -- that probe's region
        scenario TEXT NOT NULL,
        requested_at INTEGER NOT NULL,  -- Unix ms
        request_json TEXT NOT NULL      -- the whole RunRequest
    );
    CREATE INDEX confirm_requests_by_requested_at ON confirm_requests (requested_at);",
    ),
    (
        5,
        // `after = "N of M"` (`crate::alert::RecentRuns`): the outcomes of a
        // region's runs since its health last changed, oldest first, `p`
        // passed, `f` failed, at most 100. NULL (a row from before): none.
        "ALTER TABLE alert_state ADD COLUMN recent_runs TEXT;",
    ),
    (
        6,
        // `[alert] retry`: which attempt a result is and the first
        // attempt's id, so the SLO counts only an attempt's last result
        // (a failure is superseded by the attempt after it, found through
        // the index). Older rows are first attempts.
        "ALTER TABLE results ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE results ADD COLUMN retry_of BLOB;  -- the first attempt's UUID, 16 bytes
    CREATE INDEX results_by_retry_of ON results (retry_of, attempt) WHERE retry_of IS NOT NULL;",
    ),
    (
        7,
        // Maintenance windows made through the API (those of scheduler.toml
        // live in the file), and whether a run fell in a window that keeps
        // it out of the SLO.
        "CREATE TABLE maintenance (
        id TEXT PRIMARY KEY,
        spec_json TEXT NOT NULL,       -- the window as written (API keys)
        ends_at INTEGER,               -- Unix ms a one-off window closes; NULL: recurring
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    ALTER TABLE results ADD COLUMN slo_excluded INTEGER NOT NULL DEFAULT 0;",
    ),
    (
        8,
        // The audit log (`crate::store::audit`): every write someone made,
        // kept like results.
        "CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,          -- Unix ms
        actor TEXT NOT NULL,          -- the operator token's name, or `command line`
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX audit_by_at ON audit (at);",
    ),
    (
        9,
        // Viewer tokens (`read_access = "token"`). SQLite cannot alter a
        // CHECK, so the table is rebuilt with every row copied, in this
        // migration's transaction.
        "CREATE TABLE tokens_rebuilt (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        region TEXT,                  -- NULL for operator and viewer tokens
        kind TEXT NOT NULL CHECK (kind IN ('probe', 'operator', 'viewer')),
        sha256 TEXT NOT NULL UNIQUE,  -- lowercase hex; the token itself is never stored
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    INSERT INTO tokens_rebuilt (id, name, region, kind, sha256, created_at, revoked_at)
        SELECT id, name, region, kind, sha256, created_at, revoked_at FROM tokens;
    DROP TABLE tokens;
    ALTER TABLE tokens_rebuilt RENAME TO tokens;
    CREATE INDEX tokens_by_name ON tokens (name);",
    ),
    (
        10,
        // The leader lease (`crate::leadership`) and the results a
        // replica that does not lead leaves for the leader's engine
        // (`crate::store::pending`).
        "CREATE TABLE leader_lease (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        holder TEXT NOT NULL,         -- the replica's name
        epoch INTEGER NOT NULL,       -- raised each time the lease changes hands
        expires_at INTEGER NOT NULL   -- Unix ms
    );
    CREATE TABLE pending_evaluation (
        result_id BLOB PRIMARY KEY,   -- a results.id
        queued_at INTEGER NOT NULL    -- Unix ms
    );",
    ),
    (
        11,
        // On-demand runs as every replica sees them
        // (`crate::store::run_requests`), the confirmation runs still out
        // among them; and what each replica last said of its catalog
        // (`crate::store::replicas`).
        "CREATE TABLE run_requests (
        id TEXT PRIMARY KEY,           -- the RunRequest's id (results carry it as run_request)
        probe TEXT NOT NULL,           -- the probe asked to run it
        scenario TEXT NOT NULL,
        requested_at INTEGER NOT NULL, -- Unix ms
        request_json TEXT NOT NULL,    -- the whole RunRequest
        answer_json TEXT               -- the result that answered it, as stored
    );
    CREATE INDEX run_requests_by_requested_at ON run_requests (requested_at);
    INSERT INTO run_requests (id, probe, scenario, requested_at, request_json)
        SELECT id, probe, scenario, requested_at, request_json FROM confirm_requests;
    CREATE TABLE replicas (
        name TEXT PRIMARY KEY,
        catalog_version TEXT NOT NULL,
        catalog_errors INTEGER NOT NULL,
        seen_at INTEGER NOT NULL       -- Unix ms
    );",
    ),
    (
        12,
        // A result's JSON LZ4-compressed (`super::stored_json`): about a
        // third of the bytes, and bytes written are what bounds ingest
        // (each is written twice, to the WAL and by its checkpoint).
        // Rows from before keep their text in `result_json`.
        "ALTER TABLE results ADD COLUMN result_lz4 BLOB; -- set: result_json is ''",
    ),
];

/// The newest schema this build knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Brings the schema up to date; refuses a store from a newer scheduler.
///
/// # Errors
/// SQL errors, or [`StoreError::NewerSchema`].
pub fn migrate(conn: &mut Connection, now_ms: i64) -> Result<(), StoreError> {
    migrate_to(conn, now_ms, latest())
}

/// Applies the migrations up to `target` (older schemas, for tests).
fn migrate_to(conn: &mut Connection, now_ms: i64, target: i64) -> Result<(), StoreError> {
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
    let pending = MIGRATIONS
        .iter()
        .filter(|(v, _)| *v > current && *v <= target);
    for (version, sql) in pending {
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

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, params};

    use super::{migrate, migrate_to};

    fn insert(
        conn: &Connection,
        id: &str,
        kind: &str,
        region: Option<&str>,
    ) -> rusqlite::Result<usize> {
        conn.execute(
            "INSERT INTO tokens (id, name, region, kind, sha256, created_at, revoked_at)
             VALUES (?1, ?1, ?2, ?3, ?4, 1, NULL)",
            params![id, region, kind, format!("{id:0>64}")],
        )
    }

    /// A store from before viewer tokens keeps every token through the
    /// table rebuild, and takes viewers (and nothing else) after it.
    #[test]
    fn the_tokens_of_a_schema_8_store_survive_and_viewers_are_accepted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v8.db");
        let mut conn = Connection::open(&path).expect("open");
        migrate_to(&mut conn, 0, 8).expect("schema 8");
        insert(&conn, "p-eu", "probe", Some("eu-west-1")).expect("probe");
        insert(&conn, "ops", "operator", None).expect("operator");
        conn.execute("UPDATE tokens SET revoked_at = 5 WHERE id = 'ops'", [])
            .expect("revoke");
        assert!(insert(&conn, "too-early", "viewer", None).is_err());
        drop(conn);

        let mut conn = Connection::open(&path).expect("reopen");
        migrate(&mut conn, 0).expect("migrate");
        let rows: Vec<(String, String, Option<String>, Option<i64>)> = conn
            .prepare("SELECT id, kind, region, revoked_at FROM tokens ORDER BY id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            rows,
            [
                ("ops".to_owned(), "operator".to_owned(), None, Some(5)),
                (
                    "p-eu".to_owned(),
                    "probe".to_owned(),
                    Some("eu-west-1".to_owned()),
                    None
                ),
            ]
        );
        insert(&conn, "grafana", "viewer", None).expect("a viewer after migration 9");
        assert!(
            insert(&conn, "root", "admin", None).is_err(),
            "kinds are still checked"
        );
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tokens' ORDER BY name")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(indexes.iter().any(|i| i == "tokens_by_name"), "{indexes:?}");
        let duplicate = conn.execute(
            "INSERT INTO tokens (id, name, kind, sha256, created_at) SELECT 'copy', name, kind, sha256, 1 FROM tokens WHERE id = 'p-eu'",
            [],
        );
        assert!(duplicate.is_err(), "a hash is still stored once");
    }

    fn result(id: &str, started_at: &str) -> scenarios::wire::RunResult {
        serde_json::from_str(&format!(
            r#"{{"id":"{id}","scenario":"checkout","version":"sha256:00","probe":"p-eu","region":"eu-west-1",
                "scheduled_at":"{started_at}","started_at":"{started_at}","duration_ms":12.5,"outcome":"success",
                "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","steps":[]}}"#
        ))
        .expect("a run result")
    }

    /// Results stored as text before migration 12 read back beside those
    /// stored compressed after it, newest first, each as it was sent.
    #[test]
    fn results_of_a_schema_11_store_read_back_beside_compressed_ones() {
        use crate::store::Results;
        use crate::store::results::ResultRow;

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v11.db");
        let mut conn = Connection::open(&path).expect("open");
        migrate_to(&mut conn, 0, 11).expect("schema 11");
        let old = result(
            "01890000-0000-7000-8000-000000000001",
            "2026-11-24T10:00:00.000Z",
        );
        let row = ResultRow::of(&old).expect("row");
        conn.execute(
            "INSERT INTO results (id, scenario, region, probe, version, scheduled_at, started_at,
                duration_ms, outcome, result_json, ingested_at)
             VALUES (?1, 'checkout', 'eu-west-1', 'p-eu', 'sha256:00', ?2, ?2, 12.5, 'success', ?3, 0)",
            params![old.id.as_bytes().as_slice(), row.started_at, row.result_json],
        )
        .expect("a schema 11 row");
        drop(conn);

        let mut conn = Connection::open(&path).expect("reopen");
        migrate(&mut conn, 0).expect("migrate");
        let new = result(
            "01890000-0000-7000-8000-000000000002",
            "2026-11-24T10:01:00.000Z",
        );
        let inserted = conn
            .insert_results(&mut [ResultRow::of(&new).expect("row")].iter(), 0)
            .expect("insert");
        assert_eq!(inserted, [true]);
        let (text, compressed): (String, Option<Vec<u8>>) = conn
            .query_row(
                "SELECT result_json, result_lz4 FROM results WHERE id = ?1",
                params![new.id.as_bytes().as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("the new row");
        assert_eq!(text, "");
        assert!(compressed.is_some_and(|c| !c.is_empty()));
        let recent = conn
            .recent_results("checkout", Some("eu-west-1"), 10)
            .expect("recent");
        assert_eq!(recent, [new.clone(), old.clone()]);
        let mut all = Vec::new();
        let damaged = conn.for_each_result(&mut |r| all.push(r)).expect("all");
        assert_eq!((damaged, all), (0, vec![old, new]));
    }

    /// A compressed result whose bytes are damaged is counted as damaged
    /// by the start-up rebuild, and is an error to the history, never a
    /// panic or a huge allocation.
    #[test]
    fn a_damaged_compressed_result_is_reported_not_read() {
        use crate::store::Results;
        use crate::store::results::ResultRow;

        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("s.db")).expect("open");
        migrate(&mut conn, 0).expect("migrate");
        let r = result(
            "01890000-0000-7000-8000-000000000003",
            "2026-11-24T10:00:00.000Z",
        );
        conn.insert_results(&mut [ResultRow::of(&r).expect("row")].iter(), 0)
            .expect("insert");
        // A length of 2 GB, then a short length with bytes that are no LZ4.
        let damages: [&[u8]; 2] = [&[0xff, 0xff, 0xff, 0x7f, 1, 2, 3], &[40, 0, 0, 0, 0xf0, 1]];
        for damage in damages {
            conn.execute("UPDATE results SET result_lz4 = ?1", params![damage])
                .expect("damage");
            let damaged = conn.for_each_result(&mut |_| {}).expect("rebuild");
            assert_eq!(damaged, 1);
            let read = conn.recent_results("checkout", None, 10);
            assert!(
                matches!(read, Err(crate::store::StoreError::Corrupt(_))),
                "{read:?}"
            );
        }
    }
}
