//! The `tokens` table.

use super::Conn;
use crate::store::StoreError;
use crate::store::tokens::{TokenRow, Tokens};

impl Tokens for Conn {
    fn insert_token(&self, t: &TokenRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO tokens (id, name, region, kind, sha256, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &t.id,
                &t.name,
                &t.region,
                &t.kind,
                &t.sha256,
                &t.created_at,
                &t.revoked_at,
            ],
        )?;
        Ok(())
    }

    fn tokens(&self, name: Option<&str>) -> Result<Vec<TokenRow>, StoreError> {
        let rows = self.query(
            "SELECT id, name, region, kind, sha256, created_at, revoked_at FROM tokens
             WHERE $1::TEXT IS NULL OR name = $1 ORDER BY created_at, id",
            &[&name],
        )?;
        rows.iter()
            .map(|row| {
                Ok(TokenRow {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    region: row.try_get(2)?,
                    kind: row.try_get(3)?,
                    sha256: row.try_get(4)?,
                    created_at: row.try_get(5)?,
                    revoked_at: row.try_get(6)?,
                })
            })
            .collect()
    }

    fn revoke_tokens(&self, name: &str, now_ms: i64) -> Result<usize, StoreError> {
        self.changed(
            "UPDATE tokens SET revoked_at = $2
             WHERE (name = $1 OR id = $1) AND revoked_at IS NULL",
            &[&name, &now_ms],
        )
    }
}
