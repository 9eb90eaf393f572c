//! Whether the store can be written: a write that fails because the
//! database or its disk is full makes the store unwritable (readiness,
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
    /// Any other database error.
    Other,
}

impl WriteFailure {
    pub const ALL: [WriteFailure; 2] = [WriteFailure::DiskFull, WriteFailure::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            WriteFailure::DiskFull => "disk_full",
            WriteFailure::Other => "other",
        }
    }
}

/// The store's writability, shared by its handle and its writer.
#[derive(Debug, Default)]
pub struct WriteHealth {
    /// Why the latest write failed for a full disk; `None` once one commits.
    unwritable: Mutex<Option<String>>,
    disk_full: AtomicU64,
    other: AtomicU64,
}

impl WriteHealth {
    /// Why writes fail now (the database or disk is full), or `None`.
    pub fn unwritable(&self) -> Option<String> {
        self.lock().clone()
    }

    /// Failed write jobs so far, in [`WriteFailure::ALL`] order.
    pub fn failures(&self) -> [u64; 2] {
        [
            self.disk_full.load(Ordering::Relaxed),
            self.other.load(Ordering::Relaxed),
        ]
    }

    /// Counts a failed write job; a full disk makes the store unwritable.
    /// Errors that are no failure to write (closing, damaged values) are
    /// not counted.
    pub(crate) fn failed(&self, e: &StoreError) {
        match e {
            StoreError::DiskFull(why) => {
                self.disk_full.fetch_add(1, Ordering::Relaxed);
                let mut unwritable = self.lock();
                if unwritable.is_none() {
                    tracing::error!(error = %why,
                        "The store cannot be written: the database or disk is full; not ready until a write succeeds.");
                }
                *unwritable = Some(why.clone());
            }
            StoreError::Sqlite(_) => {
                self.other.fetch_add(1, Ordering::Relaxed);
            }
            StoreError::Open { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Closed
            | StoreError::Corrupt(_) => {}
        }
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
        assert_eq!(h.failures(), [1, 1]);
        h.committed();
        assert_eq!(h.unwritable(), None);
    }
}
