//! The PostgreSQL backend: a database named by `database_url`, shared by
//! every process that opens it. It implements every trait of the storage
//! interface on [`Conn`] (one pooled connection), one file per group of
//! tables like the SQLite backend.
//!
//! Unlike SQLite there is no group commit: each write job runs in its own
//! transaction on a pooled connection, a few at a time, and its caller
//! hears back after that transaction's COMMIT. PostgreSQL handles the
//! concurrency: result ids are deduplicated by a unique key, and outbox
//! events are numbered under a transaction lock so their ids follow
//! commit order.
//!
//! - `connect`: `database_url` → a connection, with TLS per `sslmode`.
//! - `conn`: one connection with its prepared-statement cache.
//! - `schema`: forward-only migrations under an advisory lock.
//! - `partitions`: `results` is partitioned by day; retention drops days.
//! - `listen`: LISTEN/NOTIFY, so replicas hear each other's on-demand runs.

mod alerts;
mod audit;
mod confirm_requests;
mod conn;
mod connect;
mod lease;
mod listen;
mod maintenance;
mod notify_queue;
mod outbox;
mod partitions;
mod pending;
mod probes;
mod replicas;
mod results;
mod retention;
mod run_requests;
mod schema;
mod tokens;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, watch};

pub(super) use conn::Conn;

use super::{Backend, BoxFuture, ReadJob, StoreError, Tx, WriteHealth, WriteJob};
use crate::config::DatabaseUrl;

/// Write transactions running at once.
const WRITERS: u32 = 4;
/// Read jobs running at once: with the writers, the most connections one
/// process holds.
const READERS: usize = 12;
/// Idle connections kept: all of them, so a busy process does not
/// reconnect (a TLS handshake each time).
const IDLE: usize = WRITERS as usize + READERS;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // The SQLSTATE tells a full disk (53100) or a lost server (08…)
        // from a bad statement; keep it.
        let code = e.code().map(|c| c.code().to_owned());
        let message = match e.as_db_error() {
            Some(db) => db.message().to_owned(),
            None => e.to_string(),
        };
        if code.as_deref() == Some("53100") {
            return StoreError::DiskFull(message);
        }
        StoreError::Postgres { code, message }
    }
}

/// A store's damaged value, named.
pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// The open PostgreSQL store.
pub(super) struct Postgres {
    url: Arc<DatabaseUrl>,
    idle: Arc<Mutex<Vec<Conn>>>,
    /// One permit per write transaction; closed at close.
    writers: Arc<Semaphore>,
    /// One permit per running read job.
    readers: Arc<Semaphore>,
    /// Told of each commit that wrote something.
    health: Arc<WriteHealth>,
    /// What the listening connection heard, once something asked.
    changes: Mutex<Option<watch::Receiver<u64>>>,
    /// Tells the listening thread to end.
    stop_listening: Arc<AtomicBool>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Postgres {
    /// Connects, migrates the schema (one process at a time) and makes the
    /// partitions around `now_ms`.
    pub(super) async fn open(
        url: &DatabaseUrl,
        now_ms: i64,
        health: Arc<WriteHealth>,
    ) -> Result<Postgres, StoreError> {
        let url = Arc::new(url.clone());
        let owned = Arc::clone(&url);
        let conn = tokio::task::spawn_blocking(move || open_direct(&owned, now_ms))
            .await
            .map_err(|e| StoreError::Open {
                path: url.to_string(),
                message: e.to_string(),
            })??;
        Ok(Postgres {
            url,
            idle: Arc::new(Mutex::new(vec![conn])),
            writers: Arc::new(Semaphore::new(WRITERS as usize)),
            readers: Arc::new(Semaphore::new(READERS)),
            health,
            changes: Mutex::new(None),
            stop_listening: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Backend for Postgres {
    fn write(&self, job: WriteJob) -> BoxFuture<'_> {
        Box::pin(async move {
            let Ok(permit) = Arc::clone(&self.writers).acquire_owned().await else {
                let (_, finish) = job(None);
                return finish(Err(StoreError::Closed));
            };
            let (url, idle) = (Arc::clone(&self.url), Arc::clone(&self.idle));
            let health = Arc::clone(&self.health);
            let ran = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                run_write(&url, &idle, &health, job);
            })
            .await;
            if let Err(e) = ran {
                tracing::error!(error = %e, "A store write failed to run.");
            }
        })
    }

    fn read(&self, job: ReadJob) -> BoxFuture<'_> {
        let (url, idle) = (Arc::clone(&self.url), Arc::clone(&self.idle));
        let closed = self.writers.is_closed();
        let readers = Arc::clone(&self.readers);
        Box::pin(async move {
            let permit = match readers.acquire_owned().await {
                Ok(permit) if !closed => permit,
                _ => return job(Err(StoreError::Closed)),
            };
            let ran = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                match checkout(&url, &idle) {
                    Ok(conn) => {
                        job(Ok(&conn as &dyn Tx));
                        checkin(&idle, conn);
                    }
                    Err(e) => job(Err(e)),
                }
            })
            .await;
            if let Err(e) = ran {
                tracing::error!(error = %e, "A store read failed to run.");
            }
        })
    }

    fn run_request_changes(&self) -> Option<watch::Receiver<u64>> {
        let mut changes = self.changes.lock().ok()?;
        let rx = changes.get_or_insert_with(|| {
            listen::start(Arc::clone(&self.url), Arc::clone(&self.stop_listening))
        });
        Some(rx.clone())
    }

    fn close(&self) -> BoxFuture<'_> {
        self.stop_listening.store(true, Ordering::Relaxed);
        Box::pin(async move {
            // Every permit back means no write is running; none starts after.
            if let Ok(all) = self.writers.acquire_many(WRITERS).await {
                self.writers.close();
                drop(all);
            }
            self.readers.close();
            let conns = take_idle(&self.idle);
            let _ = tokio::task::spawn_blocking(move || drop(conns)).await;
            tracing::info!("Store closed.");
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop_listening.store(true, Ordering::Relaxed);
        // A client closes by blocking on its own runtime, which must not
        // happen on a thread that drives async tasks.
        let conns = take_idle(&self.idle);
        if !conns.is_empty() {
            let _ = std::thread::Builder::new()
                .name("store-close".into())
                .spawn(move || drop(conns));
        }
    }
}

fn take_idle(idle: &Mutex<Vec<Conn>>) -> Vec<Conn> {
    idle.lock()
        .map(|mut idle| std::mem::take(&mut *idle))
        .unwrap_or_default()
}

/// Runs one write job in its own transaction.
fn run_write(url: &DatabaseUrl, idle: &Mutex<Vec<Conn>>, health: &WriteHealth, job: WriteJob) {
    let conn = match checkout(url, idle).and_then(|conn| conn.batch("BEGIN").map(|()| conn)) {
        Ok(conn) => conn,
        Err(e) => {
            // The job never ran; tell its caller why.
            let (_, finish) = job(None);
            return finish(Err(e));
        }
    };
    let (ok, finish) = job(Some(&conn as &dyn Tx));
    // A transaction that wrote nothing commits even on a full disk: only
    // one that was given a transaction id proves the store writable.
    let wrote = ok && wrote_something(&conn);
    let end = conn.batch(if ok { "COMMIT" } else { "ROLLBACK" });
    if end.is_ok() {
        if wrote {
            health.committed();
        }
        checkin(idle, conn);
    }
    finish(end);
}

/// Whether the open transaction has written (PostgreSQL assigns a
/// transaction id at the first write).
fn wrote_something(conn: &Conn) -> bool {
    conn.query_one("SELECT pg_current_xact_id_if_assigned() IS NOT NULL", &[])
        .and_then(|row| row.try_get::<_, bool>(0).map_err(StoreError::from))
        .unwrap_or(false)
}

/// An idle connection, or a new one.
fn checkout(url: &DatabaseUrl, idle: &Mutex<Vec<Conn>>) -> Result<Conn, StoreError> {
    let pooled = idle.lock().ok().and_then(|mut idle| idle.pop());
    match pooled {
        Some(conn) if !conn.is_closed() => Ok(conn),
        _ => connect::connect(url),
    }
}

fn checkin(idle: &Mutex<Vec<Conn>>, conn: Conn) {
    if conn.is_closed() {
        return;
    }
    if let Ok(mut idle) = idle.lock()
        && idle.len() < IDLE
    {
        idle.push(conn);
    }
}

/// A connection with the schema migrated, for one-off commands and the
/// first connection of the pool.
pub(super) fn open_direct(url: &DatabaseUrl, now_ms: i64) -> Result<Conn, StoreError> {
    let conn = connect::connect(url)?;
    schema::migrate(&conn, now_ms)?;
    partitions::around(&conn, now_ms)?;
    Ok(conn)
}
