//! The durable store behind one interface: every query the scheduler
//! makes is a method of a trait below, and a backend implements them all.
//! Callers never see SQL; they hand the store a *job*, a closure over a
//! [`Tx`], which runs off the async runtime inside one transaction.
//!
//! - [`results`], [`probes`], [`tokens`], [`alerts`], [`outbox`],
//!   [`notify_queue`]: the interface, one trait per group of tables, with
//!   the rows they exchange.
//! - [`lease`], [`pending`]: the leader lease and its fence, and results
//!   a replica that does not lead leaves for the leader's engine.
//! - [`run_requests`], [`replicas`]: on-demand runs and each replica's
//!   catalog, as every replica sharing the store sees them.
//! - [`retention`]: the hourly job that deletes old history through it.
//! - [`health`]: whether the store can be written (a full disk), with
//!   failed writes counted.
//! - `sqlite`: the embedded backend (one file under `data_dir`, a single
//!   writer thread with group commit, read connections beside it).
//! - `postgres`: the shared backend named by `database_url` (pooled
//!   connections, each write job its own transaction, results partitioned
//!   by day).
//!
//! A write job's caller hears back only after COMMIT, so an acknowledged
//! result or alert change is durable. On SQLite, jobs that arrive
//! together may share one transaction; each runs in its own savepoint, so
//! one failing job does not undo the others.

pub mod alerts;
pub mod audit;
pub mod health;
pub mod lease;
pub mod notify_queue;
pub mod outbox;
pub mod pending;
mod postgres;
pub mod probes;
pub mod replicas;
pub mod results;
pub mod retention;
pub mod run_requests;
mod sqlite;
pub mod tokens;

use std::fmt::Debug;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::{Config, DatabaseUrl};
use crate::leadership::Leadership;

use tokio::sync::{oneshot, watch};

pub use alerts::Alerts;
pub use audit::Audit;
pub use health::{WriteFailure, WriteHealth};
pub use lease::{Lease, Leases};
pub use notify_queue::NotifyQueue;
pub use outbox::Outbox;
pub use pending::PendingEvaluation;
pub use probes::Probes;
pub use replicas::Replicas;
pub use results::{DAY_MS, DayCounts, Results};
pub use run_requests::RunRequests;
pub use tokens::Tokens;

/// Why a store operation failed. Cloneable: one failed COMMIT fails every
/// job of its group.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(String),
    /// A write failed because the database or the disk under it is full.
    #[error("the store cannot be written: {0}")]
    DiskFull(String),
    /// `code` is the SQLSTATE when the server gave one (none: the server
    /// could not be reached or the connection broke). A full disk
    /// (`53100`) is [`StoreError::DiskFull`].
    #[error("PostgreSQL: {message}{}", code.as_ref().map(|c| format!(" (SQLSTATE {c})")).unwrap_or_default())]
    Postgres {
        code: Option<String>,
        message: String,
    },
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
    /// A leader's write whose lease no longer holds: nothing was written.
    #[error("not the leader: {0}")]
    Fenced(String),
}

/// Everything a job may do: the whole storage interface.
pub trait Tx:
    Results
    + Probes
    + Tokens
    + Alerts
    + Outbox
    + NotifyQueue
    + Audit
    + Leases
    + PendingEvaluation
    + RunRequests
    + Replicas
{
}

impl<T> Tx for T where
    T: Results
        + Probes
        + Tokens
        + Alerts
        + Outbox
        + NotifyQueue
        + Audit
        + Leases
        + PendingEvaluation
        + RunRequests
        + Replicas
{
}

/// What a backend runs after a group's COMMIT (or its failure).
pub(crate) type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
/// A write job: runs inside the transaction (or, given `None`, gives up
/// without running) and says whether it succeeded.
pub(crate) type WriteJob = Box<dyn FnOnce(Option<&dyn Tx>) -> (bool, Finish) + Send>;
/// A read job: runs on a read connection (or, given `None`, gives up).
pub(crate) type ReadJob = Box<dyn FnOnce(Result<&dyn Tx, StoreError>) + Send>;
type BoxFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A storage backend: runs jobs against its database.
pub(crate) trait Backend: Send + Sync + Debug {
    /// Queues or starts a write job (waiting while the queue is full or
    /// every writer busy); a closed backend calls `job(None)`.
    fn write(&self, job: WriteJob) -> BoxFuture<'_>;
    /// Runs a read job off the async runtime.
    fn read(&self, job: ReadJob) -> BoxFuture<'_>;
    /// A count that goes up when another process sharing the database
    /// changed the on-demand runs; `None` where nothing else shares it.
    fn run_request_changes(&self) -> Option<watch::Receiver<u64>> {
        None
    }
    /// Finishes queued writes and closes the database.
    fn close(&self) -> BoxFuture<'_>;
}

/// Handle to the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    health: Arc<WriteHealth>,
}

impl Store {
    /// Opens (creating) the SQLite store at `path`, migrates its schema
    /// and starts its writer.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub async fn open(path: &Path, now_ms: i64) -> Result<Store, StoreError> {
        let health = Arc::new(WriteHealth::default());
        let backend = sqlite::Sqlite::open(path, now_ms, Arc::clone(&health)).await?;
        Ok(Store {
            backend: Arc::new(backend),
            health,
        })
    }

    /// A count that goes up as soon as another replica sharing the
    /// database stored or answered an on-demand run (PostgreSQL's
    /// LISTEN/NOTIFY); `None` for an embedded store.
    pub fn run_request_changes(&self) -> Option<watch::Receiver<u64>> {
        self.backend.run_request_changes()
    }

    /// Whether writes succeed, and how many failed.
    pub fn health(&self) -> &WriteHealth {
        &self.health
    }

    /// Opens (creating) the PostgreSQL store at `url`, migrates its schema
    /// (under a database lock, so of several processes one migrates) and
    /// makes the partitions around `now_ms`.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated.
    pub async fn open_postgres(url: &DatabaseUrl, now_ms: i64) -> Result<Store, StoreError> {
        let health = Arc::new(WriteHealth::default());
        let backend = postgres::Postgres::open(url, now_ms, Arc::clone(&health)).await?;
        Ok(Store {
            backend: Arc::new(backend),
            health,
        })
    }

    /// Opens the store `config` names: its `database_url`, else the SQLite
    /// file under `data_dir`.
    ///
    /// # Errors
    /// As [`Store::open`] and [`Store::open_postgres`].
    pub async fn open_configured(config: &Config, now_ms: i64) -> Result<Store, StoreError> {
        match &config.database_url {
            Some(url) => Store::open_postgres(url, now_ms).await,
            None => Store::open(&config.store_path(), now_ms).await,
        }
    }

    /// Runs `f` in a write transaction; answers after COMMIT.
    ///
    /// # Errors
    /// `f`'s error, a failed commit, or [`StoreError::Closed`].
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Tx) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.backend.write(write_job(f, reply)).await;
        let written = answer.await.map_err(|_| StoreError::Closed)?;
        if let Err(e) = &written {
            self.health.failed(e);
        }
        written
    }

    /// Runs `f` in a write transaction that first checks this replica's
    /// leader fence (`crate::leadership`): a sole scheduler writes as
    /// [`Store::write`] does; a replica that does not lead, or whose lease
    /// has passed to another, writes nothing.
    ///
    /// # Errors
    /// [`StoreError::Fenced`], or as [`Store::write`].
    pub async fn write_as_leader<T, F>(
        &self,
        leadership: &Leadership,
        now_ms: i64,
        f: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Tx) -> Result<T, StoreError> + Send + 'static,
    {
        let fence = leadership
            .fence()
            .map_err(|e| StoreError::Fenced(e.to_string()))?;
        self.write(move |tx| {
            if let Some(fence) = &fence {
                tx.check_fence(fence, now_ms)?;
            }
            f(tx)
        })
        .await
    }

    /// Runs `f` on a read connection, off the async runtime.
    ///
    /// # Errors
    /// `f`'s error, or when no connection can be had.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Tx) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: ReadJob = Box::new(move |tx| {
            let _ = reply.send(tx.and_then(f));
        });
        self.backend.read(job).await;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Finishes queued writes and closes the store.
    pub async fn close(&self) {
        self.backend.close().await;
    }
}

/// Wraps `f` as a write job whose result reaches `reply` after the commit.
fn write_job<T, F>(f: F, reply: oneshot::Sender<Result<T, StoreError>>) -> WriteJob
where
    T: Send + 'static,
    F: FnOnce(&dyn Tx) -> Result<T, StoreError> + Send + 'static,
{
    Box::new(move |tx| {
        let outcome = match tx {
            Some(tx) => f(tx),
            None => Err(StoreError::Closed),
        };
        let ok = outcome.is_ok();
        let finish: Finish = Box::new(move |committed| {
            let result = match (outcome, committed) {
                (_, Err(e)) | (Err(e), Ok(())) => Err(e),
                (Ok(v), Ok(())) => Ok(v),
            };
            let _ = reply.send(result);
        });
        (ok, finish)
    })
}

/// The store for one-off commands (`scheduler token …`), migrated, used
/// without a writer thread beside a running scheduler.
///
/// # Errors
/// When the file cannot be opened or migrated.
pub fn open_direct(path: &Path, now_ms: i64) -> Result<Box<dyn Tx>, StoreError> {
    Ok(Box::new(sqlite::open_direct(path, now_ms)?))
}

/// The SQLite store at `path`, opened read-only and never migrated
/// (`scheduler migrate`'s source).
///
/// # Errors
/// When the file is no Sonde store or its schema is not this build's.
pub fn open_read_only(path: &Path) -> Result<Box<dyn Tx>, StoreError> {
    Ok(Box::new(sqlite::open_read_only(path)?))
}

/// [`open_direct`] on the store `config` names (see
/// [`Store::open_configured`]). Without a transaction around it, each
/// call commits on its own.
///
/// # Errors
/// When the store cannot be opened or migrated.
pub fn open_direct_configured(config: &Config, now_ms: i64) -> Result<Box<dyn Tx>, StoreError> {
    match &config.database_url {
        Some(url) => Ok(Box::new(postgres::open_direct(url, now_ms)?)),
        None => open_direct(&config.store_path(), now_ms),
    }
}
