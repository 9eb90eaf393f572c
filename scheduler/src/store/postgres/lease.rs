//! The `leader_lease` table, judged on the database's clock: the one
//! clock every replica shares, whatever their own say.

use super::Conn;
use crate::leadership::Fence;
use crate::store::StoreError;
use crate::store::lease::{Lease, Leases, fenced};

/// The database's time in Unix ms, read when the statement runs (not at
/// the transaction's start, which `now()` would give).
const DB_NOW: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

impl Leases for Conn {
    fn claim_lease(&self, replica: &str, ttl_ms: i64, _now_ms: i64) -> Result<Lease, StoreError> {
        let sql = format!(
            "INSERT INTO leader_lease AS l (id, holder, epoch, expires_at)
             VALUES (1, $1, 1, {DB_NOW} + $2)
             ON CONFLICT (id) DO UPDATE SET
                epoch = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > {DB_NOW}
                             THEN l.epoch ELSE l.epoch + 1 END,
                holder = EXCLUDED.holder,
                expires_at = EXCLUDED.expires_at
             WHERE l.holder = EXCLUDED.holder OR l.expires_at <= {DB_NOW}"
        );
        self.execute(&sql, &[&replica, &ttl_ms])?;
        self.current_lease()?
            .ok_or_else(|| StoreError::Corrupt("the leader lease vanished".into()))
    }

    fn release_lease(&self, replica: &str, epoch: i64, _now_ms: i64) -> Result<(), StoreError> {
        let sql = format!(
            "UPDATE leader_lease SET expires_at = {DB_NOW} WHERE holder = $1 AND epoch = $2"
        );
        self.execute(&sql, &[&replica, &epoch])?;
        Ok(())
    }

    fn check_fence(&self, fence: &Fence, _now_ms: i64) -> Result<(), StoreError> {
        // FOR SHARE: a takeover's UPDATE waits for this transaction, so the
        // lease cannot change hands between this check and the COMMIT.
        let sql = format!(
            "SELECT 1 FROM leader_lease
             WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > {DB_NOW}
             FOR SHARE"
        );
        let replica: &str = &fence.replica;
        match self.query_opt(&sql, &[&replica, &fence.epoch])? {
            Some(_) => Ok(()),
            None => Err(fenced(fence)),
        }
    }

    fn current_lease(&self) -> Result<Option<Lease>, StoreError> {
        let row = self.query_opt(
            "SELECT holder, epoch, expires_at FROM leader_lease WHERE id = 1",
            &[],
        )?;
        row.map(|r| {
            Ok(Lease {
                holder: r.try_get(0)?,
                epoch: r.try_get(1)?,
                expires_at: r.try_get(2)?,
            })
        })
        .transpose()
    }
}
