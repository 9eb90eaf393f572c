//! Token hashes: the store keeps only the SHA-256 of each token.

use rusqlite::{Connection, params};

use super::StoreError;

/// A stored token. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    /// Probe name, or the operator's name.
    pub name: String,
    /// The probe's region; `None` for operator tokens.
    pub region: Option<String>,
    /// `probe` or `operator`.
    pub kind: String,
    /// Lowercase hex SHA-256 of the token.
    pub sha256: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// Stores a token's hash.
///
/// # Errors
/// SQL errors (a hash stored twice among them).
pub fn insert(conn: &Connection, t: &TokenRow) -> Result<(), StoreError> {
    conn.execute(
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

/// Every token (revoked ones too), oldest first, optionally of one name.
///
/// # Errors
/// SQL errors.
pub fn list(conn: &Connection, name: Option<&str>) -> Result<Vec<TokenRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
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

/// Revokes every active token of `name` (or the one with id `name`);
/// returns how many.
///
/// # Errors
/// SQL errors.
pub fn revoke(conn: &Connection, name: &str, now_ms: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE (name = ?1 OR id = ?1) AND revoked_at IS NULL",
        params![name, now_ms],
    )?)
}
