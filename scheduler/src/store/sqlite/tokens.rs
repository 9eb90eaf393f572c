//! The `tokens` table.

use rusqlite::{Connection, params};

use crate::store::StoreError;
use crate::store::tokens::{TokenRow, Tokens};

impl Tokens for Connection {
    fn insert_token(&self, t: &TokenRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO tokens (id, name, region, kind, sha256, created_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                t.id,
                t.name,
                t.region,
                t.kind,
                t.sha256,
                t.created_at,
                t.revoked_at
            ],
        )?;
        Ok(())
    }

    fn tokens(&self, name: Option<&str>) -> Result<Vec<TokenRow>, StoreError> {
        let mut stmt = self.prepare_cached(
            "SELECT id, name, region, kind, sha256, created_at, revoked_at FROM tokens
             WHERE ?1 IS NULL OR name = ?1 ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map(params![name], |row| {
            Ok(TokenRow {
                id: row.get(0)?,
                name: row.get(1)?,
                region: row.get(2)?,
                kind: row.get(3)?,
                sha256: row.get(4)?,
                created_at: row.get(5)?,
                revoked_at: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revoke_tokens(&self, name: &str, now_ms: i64) -> Result<usize, StoreError> {
        Ok(self.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE (name = ?1 OR id = ?1) AND revoked_at IS NULL",
            params![name, now_ms],
        )?)
    }
}
