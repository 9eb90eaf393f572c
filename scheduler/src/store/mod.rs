//! The durable store: one SQLite file under `data_dir` (WAL,
//! `synchronous=FULL`), written by a single writer thread with group
//! commit and read through a small pool of separate connections. Every
//! call runs off the async runtime.
//!
//! - `schema`: forward-only migrations.
//! - `writer`: the writer thread and its jobs.
//! - [`results`]: run results (insert, history, aggregation input).
//! - [`probes`]: registered probes.
//! - [`tokens`]: token hashes.
//! - [`retention`]: deleting old results.
//! - [`alert_events`]: the alert engine's outbox (defined in `crate::alert`).

pub use crate::alert::outbox as alert_events;
pub mod probes;
pub mod results;
pub mod retention;
mod schema;
pub mod tokens;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

/// How long a connection waits for a lock held by another (e.g. a
/// `scheduler token create` running beside the server).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle read connections kept.
const READERS: usize = 8;
/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Why a store operation failed. Cloneable: one failed COMMIT fails every
/// job of its group.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(String),
    #[error("cannot open the store `{path}`: {message}")]
    Open { path: String, message: String },
    #[error(
        "the store was written by a newer scheduler (schema {found}; this one knows up to {known})"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("the store is closed")]
    Closed,
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e.to_string())
    }
}

/// Handle to the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    jobs: mpsc::Sender<writer::Message>,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Dropping the sender stops the checkpointer.
    checkpointer: Mutex<Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
}

impl Store {
    /// Opens (creating) the store at `path`, migrates its schema and starts
    /// the writer thread.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub async fn open(path: &Path, now_ms: i64) -> Result<Store, StoreError> {
        let owned = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || open_writer(&owned, now_ms))
            .await
            .map_err(|e| StoreError::Sqlite(e.to_string()))??;
        let (tx, rx) = mpsc::channel(writer::QUEUE);
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer::run(conn, rx))
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
        let checkpointer = spawn_checkpointer(path)?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                jobs: tx,
                readers: Mutex::new(Vec::new()),
                writer: Mutex::new(Some(handle)),
                checkpointer: Mutex::new(Some(checkpointer)),
            }),
        })
    }

    /// The SQLite file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in the writer's transaction; answers after COMMIT.
    ///
    /// # Errors
    /// `f`'s error, a failed commit, or [`StoreError::Closed`].
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.inner
            .jobs
            .send(writer::Message::Job(writer::job(f, reply)))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a read connection, off the async runtime.
    ///
    /// # Errors
    /// `f`'s error, or when no connection can be opened.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = match inner.readers.lock().ok().and_then(|mut pool| pool.pop()) {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let result = f(&conn);
            if let Ok(mut pool) = inner.readers.lock()
                && pool.len() < READERS
            {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Sqlite(e.to_string()))?
    }

    /// Finishes queued writes, checkpoints the WAL and closes the file.
    pub async fn close(&self) {
        let checkpointer = self
            .inner
            .checkpointer
            .lock()
            .ok()
            .and_then(|mut c| c.take());
        if let Some((stop, handle)) = checkpointer {
            drop(stop);
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        let (done, closed) = oneshot::channel();
        if self
            .inner
            .jobs
            .send(writer::Message::Close(done))
            .await
            .is_ok()
        {
            let _ = closed.await;
        }
        let handle = self.inner.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        if let Ok(mut pool) = self.inner.readers.lock() {
            pool.clear();
        }
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

/// A connection for one-off commands (`scheduler token …`), migrated.
///
/// # Errors
/// When the file cannot be opened or migrated.
pub fn open_direct(path: &Path, now_ms: i64) -> Result<Connection, StoreError> {
    open_writer(path, now_ms)
}
