//! What each scheduler replica sharing the store last said of itself: the
//! version of the catalog it loaded and how many of its files are invalid,
//! so any replica can tell when one loaded a different scenario directory.

use super::StoreError;

/// One replica's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRow {
    pub name: String,
    /// [`crate::catalog::Catalog::version`].
    pub catalog_version: String,
    pub catalog_errors: i64,
    /// Unix ms of its latest report.
    pub seen_at: i64,
}

/// The `replicas` table.
pub trait Replicas {
    /// Records a replica's report (replacing its previous one).
    ///
    /// # Errors
    /// Database errors.
    fn report_replica(&self, row: &ReplicaRow) -> Result<(), StoreError>;

    /// Every replica's latest report, by name.
    ///
    /// # Errors
    /// Database errors.
    fn replicas(&self) -> Result<Vec<ReplicaRow>, StoreError>;
}
