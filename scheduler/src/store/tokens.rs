//! Token hashes: the store keeps only the SHA-256 of each token.

use super::StoreError;

/// A stored token. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub id: String,
    /// Probe name, or the operator's or viewer's name.
    pub name: String,
    /// The probe's region; `None` for operator and viewer tokens.
    pub region: Option<String>,
    /// `probe`, `operator` or `viewer`.
    pub kind: String,
    /// Lowercase hex SHA-256 of the token.
    pub sha256: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// The `tokens` table.
pub trait Tokens {
    /// Stores a token's hash.
    ///
    /// # Errors
    /// Database errors (a hash stored twice among them).
    fn insert_token(&self, t: &TokenRow) -> Result<(), StoreError>;

    /// Every token (revoked ones too), oldest first, optionally of one
    /// name.
    ///
    /// # Errors
    /// Database errors.
    fn tokens(&self, name: Option<&str>) -> Result<Vec<TokenRow>, StoreError>;

    /// Revokes every active token of `name` (or the one with id `name`);
    /// returns how many.
    ///
    /// # Errors
    /// Database errors.
    fn revoke_tokens(&self, name: &str, now_ms: i64) -> Result<usize, StoreError>;
}
