//! The SQLite backend: one file under `data_dir` (WAL,
//! `synchronous=FULL`), written by a single writer thread with group
//! commit and read through a small pool of separate connections. It
//! implements every trait of the storage interface on
//! [`rusqlite::Connection`], one file per group of tables.
//!
//! - `schema`: forward-only migrations.
//! - `stored_json`: a result's JSON as the `results` table keeps it.
//! - `writer`: the writer thread and its group commit.

mod alerts;
mod audit;
mod confirm_requests;
mod lease;
mod maintenance;
mod notify_queue;
mod outbox;
mod pending;
mod probes;
mod replicas;
mod results;
mod retention;
mod run_requests;
mod schema;
mod stored_json;
mod tokens;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc;

use super::{Backend, BoxFuture, ReadJob, StoreError, Tx, WriteHealth, WriteJob};

/// How long a connection waits for a lock held by another (e.g. a
/// `scheduler token create` running beside the server).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle read connections kept.
const READERS: usize = 8;
/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if is_disk_full(&e) {
            return StoreError::DiskFull(e.to_string());
        }
        StoreError::Sqlite(e.to_string())
    }
}

/// SQLite's "database or disk is full" (`SQLITE_FULL`: the disk had no
/// room, ENOSPC or EDQUOT, or the database reached its page limit).
fn is_disk_full(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
}

/// A store's damaged value, named.
pub(super) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// The open SQLite store.
#[derive(Debug)]
pub(super) struct Sqlite {
    path: PathBuf,
    jobs: mpsc::Sender<writer::Message>,
    readers: std::sync::Arc<Mutex<Vec<Connection>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Dropping the sender stops the checkpointer.
    checkpointer: Mutex<Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
}

impl Sqlite {
    /// Opens (creating) the store at `path`, migrates its schema and starts
    /// the writer thread.
    pub(super) async fn open(
        path: &Path,
        now_ms: i64,
        health: std::sync::Arc<WriteHealth>,
    ) -> Result<Sqlite, StoreError> {
        let owned = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || open_writer(&owned, now_ms))
            .await
            .map_err(|e| StoreError::Sqlite(e.to_string()))??;
        let (tx, rx) = mpsc::channel(writer::QUEUE);
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer::run(conn, rx, &health))
            .map_err(|e| open_error(path, e))?;
        let checkpointer = spawn_checkpointer(path)?;
        Ok(Sqlite {
            path: path.to_path_buf(),
            jobs: tx,
            readers: std::sync::Arc::default(),
            writer: Mutex::new(Some(handle)),
            checkpointer: Mutex::new(Some(checkpointer)),
        })
    }
}

impl Backend for Sqlite {
    fn write(&self, job: WriteJob) -> BoxFuture<'_> {
        Box::pin(async move {
            if let Err(mpsc::error::SendError(writer::Message::Job(job))) =
                self.jobs.send(writer::Message::Job(job)).await
            {
                let (_, finish) = job(None);
                finish(Err(StoreError::Closed));
            }
        })
    }

    fn read(&self, job: ReadJob) -> BoxFuture<'_> {
        let path = self.path.clone();
        let readers = std::sync::Arc::clone(&self.readers);
        Box::pin(async move {
            let ran = tokio::task::spawn_blocking(move || {
                let pooled = readers.lock().ok().and_then(|mut pool| pool.pop());
                let conn = match pooled {
                    Some(conn) => conn,
                    None => match open_reader(&path) {
                        Ok(conn) => conn,
                        Err(e) => return job(Err(e)),
                    },
                };
                job(Ok(&conn as &dyn Tx));
                if let Ok(mut pool) = readers.lock()
                    && pool.len() < READERS
                {
                    pool.push(conn);
                }
            })
            .await;
            if let Err(e) = ran {
                tracing::error!(error = %e, "A store read failed to run.");
            }
        })
    }

    fn close(&self) -> BoxFuture<'_> {
        Box::pin(async move {
            let checkpointer = self.checkpointer.lock().ok().and_then(|mut c| c.take());
            if let Some((stop, handle)) = checkpointer {
                drop(stop);
                let _ = tokio::task::spawn_blocking(move || handle.join()).await;
            }
            let (done, closed) = tokio::sync::oneshot::channel();
            if self.jobs.send(writer::Message::Close(done)).await.is_ok() {
                let _ = closed.await;
            }
            let handle = self.writer.lock().ok().and_then(|mut h| h.take());
            if let Some(handle) = handle {
                let _ = tokio::task::spawn_blocking(move || handle.join()).await;
            }
            if let Ok(mut pool) = self.readers.lock() {
                pool.clear();
            }
        })
    }
}

fn open_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Open {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn open_writer(path: &Path, now_ms: i64) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| open_error(path, e))?;
    }
    let mut conn = Connection::open(path).map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers run beside the writer; FULL makes every COMMIT
    // durable before a batch is acknowledged.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -16_000)?;
    // The checkpointer thread moves the WAL into the database file, so
    // commits never wait for a checkpoint.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.set_prepared_statement_cache_capacity(64);
    schema::migrate(&mut conn, now_ms)?;
    Ok(conn)
}

/// Checkpoints (PASSIVE: never blocks the writer or readers) every
/// [`CHECKPOINT_EVERY`] until its sender is dropped.
fn spawn_checkpointer(
    path: &Path,
) -> Result<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>), StoreError> {
    let conn = Connection::open(path).map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("store-checkpoint".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(CHECKPOINT_EVERY)
            {
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "Store checkpoint failed.");
                }
            }
        })
        .map_err(|e| open_error(path, e))?;
    Ok((stop, handle))
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// A migrated connection for one-off commands.
pub(super) fn open_direct(path: &Path, now_ms: i64) -> Result<Connection, StoreError> {
    open_writer(path, now_ms)
}

/// Opens an existing store without writing to it (`scheduler migrate`'s
/// source): refuses a file without Sonde's schema, or one whose schema is
/// not the one this build reads.
pub(super) fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let found: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .map_err(|_| StoreError::Corrupt("not a Sonde store (no schema_version table)".into()))?;
    let found = found.unwrap_or(0);
    let known = schema::latest();
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    if found < known {
        return Err(StoreError::Corrupt(format!(
            "the store's schema is version {found}, this scheduler reads {known}: \
             start this scheduler once on it (it migrates the file), then migrate"
        )));
    }
    Ok(conn)
}
