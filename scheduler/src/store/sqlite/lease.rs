//! The `leader_lease` table (migration 10). One process owns an SQLite
//! file, so it is the only claimant; the table keeps the interface whole
//! and the behaviour alike on both backends.

use rusqlite::{Connection, OptionalExtension, params};

use crate::leadership::Fence;
use crate::store::StoreError;
use crate::store::lease::{Lease, Leases, fenced};

impl Leases for Connection {
    fn claim_lease(&self, replica: &str, ttl_ms: i64, now_ms: i64) -> Result<Lease, StoreError> {
        self.prepare_cached(
            "INSERT INTO leader_lease (id, holder, epoch, expires_at) VALUES (1, ?1, 1, ?2 + ?3)
             ON CONFLICT (id) DO UPDATE SET
                epoch = CASE WHEN holder = excluded.holder AND expires_at > ?2
                             THEN epoch ELSE epoch + 1 END,
                holder = excluded.holder,
                expires_at = excluded.expires_at
             WHERE holder = excluded.holder OR expires_at <= ?2",
        )?
        .execute(params![replica, now_ms, ttl_ms])?;
        self.current_lease()?
            .ok_or_else(|| StoreError::Corrupt("the leader lease vanished".into()))
    }

    fn release_lease(&self, replica: &str, epoch: i64, now_ms: i64) -> Result<(), StoreError> {
        self.prepare_cached(
            "UPDATE leader_lease SET expires_at = ?3 WHERE holder = ?1 AND epoch = ?2",
        )?
        .execute(params![replica, epoch, now_ms])?;
        Ok(())
    }

    fn check_fence(&self, fence: &Fence, now_ms: i64) -> Result<(), StoreError> {
        let held: Option<i64> = self
            .prepare_cached(
                "SELECT 1 FROM leader_lease
                 WHERE holder = ?1 AND epoch = ?2 AND expires_at > ?3",
            )?
            .query_row(params![&*fence.replica, fence.epoch, now_ms], |r| r.get(0))
            .optional()?;
        held.map(|_| ()).ok_or_else(|| fenced(fence))
    }

    fn current_lease(&self) -> Result<Option<Lease>, StoreError> {
        Ok(self
            .prepare_cached("SELECT holder, epoch, expires_at FROM leader_lease WHERE id = 1")?
            .query_row([], |r| {
                Ok(Lease {
                    holder: r.get(0)?,
                    epoch: r.get(1)?,
                    expires_at: r.get(2)?,
                })
            })
            .optional()?)
    }
}
