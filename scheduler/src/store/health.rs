//! Whether the store can be written: a write that fails because the
//! database or its disk is full, or because the database cannot be reached
//! or is read-only, makes the store unwritable (readiness,
//! `sonde_store_writable`) until a later write commits a change. Failed
//! write jobs are counted by reason.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::StoreError;

/// The `reason` label values of `sonde_store_write_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteFailure {
    /// The database or the disk under it is full.
    DiskFull,
    /// The database server cannot be reached, refuses connections, or is
    /// read-only (a standby after a failover).
    Unavailable,
    /// Any other database error: this write failed, the next may not.
    Other,
}

impl WriteFailure {
    pub const ALL: [WriteFailure; 3] = [
        WriteFailure::DiskFull,
        WriteFailure::Unavailable,
        WriteFailure::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WriteFailure::DiskFull => "disk_full",
            WriteFailure::Unavailable => "unavailable",
            WriteFailure::Other => "other",
        }
    }

    /// Whether no write can succeed until the cause is mended.
    pub fn makes_unwritable(self) -> bool {
        self != WriteFailure::Other
    }
}

impl StoreError {
    /// Why this error failed a write, or `None` for errors that are no
    /// failure to write (closing, damaged values).
    pub fn write_failure(&self) -> Option<WriteFailure> {
        match self {
            StoreError::DiskFull(_) => Some(WriteFailure::DiskFull),
            StoreError::Sqlite(_) => Some(WriteFailure::Other),
            StoreError::Postgres { code, .. } => Some(match code.as_deref() {
                // No SQLSTATE: the connection could not be made or broke.
                None => WriteFailure::Unavailable,
                // 08: connection exception; 57P0x: the server is shutting
                // down or starting; 53300: too many connections; 25006: a
                // read-only transaction (a standby).
                Some(c) if c.starts_with("08") || c.starts_with("57P0") => {
                    WriteFailure::Unavailable
                }
                Some("53300" | "25006") => WriteFailure::Unavailable,
                Some(_) => WriteFailure::Other,
            }),
            StoreError::Open { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Closed
            | StoreError::Corrupt(_)
            | StoreError::Fenced(_) => None,
        }
    }

    /// The database's own words, without the variant's prefix.
    fn cause(&self) -> String {
        match self {
            StoreError::DiskFull(why) | StoreError::Sqlite(why) => why.clone(),
            StoreError::Postgres { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}

/// The store's writability, shared by its handle and its writer.
#[derive(Debug, Default)]
pub struct WriteHealth {
    /// Why the latest write failed for a full disk; `None` once one commits.
    unwritable: Mutex<Option<String>>,
    /// Failed write jobs, in [`WriteFailure::ALL`] order.
    failed: [AtomicU64; 3],
}

impl WriteHealth {
    /// Why writes fail now (the database or disk is full, the database
    /// cannot be reached), or `None`.
    pub fn unwritable(&self) -> Option<String> {
        self.lock().clone()
    }

    /// Failed write jobs so far, in [`WriteFailure::ALL`] order.
    pub fn failures(&self) -> [u64; 3] {
        self.failed.each_ref().map(|n| n.load(Ordering::Relaxed))
    }

    /// Counts a failed write job; a full disk or an unavailable database
    /// makes the store unwritable. Errors that are no failure to write
    /// (closing, damaged values) are not counted.
    pub(crate) fn failed(&self, e: &StoreError) {
        let Some(failure) = e.write_failure() else {
            return;
        };
        let at = WriteFailure::ALL
            .iter()
            .position(|f| *f == failure)
            .unwrap_or(WriteFailure::ALL.len() - 1);
        self.failed[at].fetch_add(1, Ordering::Relaxed);
        if !failure.makes_unwritable() {
            return;
        }
        let why = e.cause();
        let mut unwritable = self.lock();
        if unwritable.is_none() {
            tracing::error!(error = %why, reason = failure.as_str(),
                "The store cannot be written; not ready until a write succeeds.");
        }
        *unwritable = Some(why);
    }

    /// A transaction that changed the database committed.
    pub(crate) fn committed(&self) {
        let mut unwritable = self.lock();
        if unwritable.take().is_some() {
            tracing::info!("The store is writable again.");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.unwritable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_makes_it_unwritable_until_a_commit() {
        let h = WriteHealth::default();
        assert_eq!(h.unwritable(), None);
        h.failed(&StoreError::Sqlite("constraint".into()));
        assert_eq!(h.unwritable(), None, "other errors keep it writable");
        h.failed(&StoreError::DiskFull("database or disk is full".into()));
        h.failed(&StoreError::Closed);
        assert_eq!(h.unwritable().as_deref(), Some("database or disk is full"));
        assert_eq!(h.failures(), [1, 0, 1]);
        h.committed();
        assert_eq!(h.unwritable(), None);
    }

    #[test]
    fn a_database_that_cannot_be_reached_makes_it_unwritable() {
        let h = WriteHealth::default();
        let bad_statement = StoreError::Postgres {
            code: Some("42P01".into()),
            message: "relation does not exist".into(),
        };
        h.failed(&bad_statement);
        assert_eq!(h.unwritable(), None);
        for code in [None, Some("08006"), Some("57P01"), Some("25006")] {
            h.failed(&StoreError::Postgres {
                code: code.map(str::to_owned),
                message: "connection refused".into(),
            });
        }
        assert_eq!(h.unwritable().as_deref(), Some("connection refused"));
        assert_eq!(h.failures(), [0, 4, 1]);
    }
}
