//! Tokens: `sonde_` and 64 hex digits (32 random bytes), sent as
//! `Authorization: Bearer …` or as the password of HTTP Basic (any user
//! name), so browsers and Prometheus' `basic_auth` can send them. Only
//! their SHA-256 is kept, in the store (`scheduler token create`) or in
//! `[[probe]]` entries. Probe requests also name themselves with
//! `X-Sonde-Probe` and `X-Sonde-Region`, which must match the token.
//!
//! Missing or unknown (or revoked) token: 401. A valid token used where it
//! is not allowed (another probe name or region, a probe token anywhere
//! but the probe endpoints, only an operator token on operator endpoints):
//! 403.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::HeaderMap;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::config::ProbeEntry;
use crate::store::{Store, StoreError, Tokens, Tx};

/// Every token starts with this.
pub const TOKEN_PREFIX: &str = "sonde_";
/// The header a probe names itself with.
pub const PROBE_HEADER: &str = "x-sonde-probe";
/// The header a probe names its region with.
pub const REGION_HEADER: &str = "x-sonde-region";
/// Stored tokens are re-read at least this often (revocations take effect).
const REFRESH: Duration = Duration::from_secs(2);

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Probe,
    /// Writes (silences, run now, …), the audit log and everything a
    /// viewer may read.
    Operator,
    /// Reads only: the read API, the status page and `/metrics` when
    /// `read_access = "token"`.
    Viewer,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Probe => "probe",
            TokenKind::Operator => "operator",
            TokenKind::Viewer => "viewer",
        }
    }

    /// "a probe", "an operator", "a viewer": for messages.
    pub fn with_article(self) -> &'static str {
        match self {
            TokenKind::Probe => "a probe",
            TokenKind::Operator => "an operator",
            TokenKind::Viewer => "a viewer",
        }
    }

    /// The kind stored as `name`, if it is one.
    pub fn parse(name: &str) -> Option<TokenKind> {
        [TokenKind::Probe, TokenKind::Operator, TokenKind::Viewer]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub kind: TokenKind,
    pub name: String,
    /// The probe's region; `None` for operators and viewers.
    pub region: Option<String>,
}

/// A probe that proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeIdentity {
    pub name: String,
    pub region: String,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "missing token (send `Authorization: Bearer sonde_…`, or HTTP Basic with the token as the password)"
    )]
    MissingToken,
    #[error("unknown or revoked token")]
    UnknownToken,
    #[error("missing `{0}` header")]
    MissingHeader(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("tokens cannot be checked right now")]
    Unavailable,
}

/// A new random token.
///
/// # Errors
/// When the system has no randomness to give.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// Lowercase hex SHA-256 of a token, as stored.
pub fn token_sha256(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Equality that takes as long whatever the inputs hold.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Clone)]
struct Known {
    sha256: [u8; 32],
    grant: Grant,
}

#[derive(Debug)]
struct Cache {
    stored: Arc<Vec<Known>>,
    loaded: Option<Instant>,
}

/// Checks tokens against the store and the config's `[[probe]]` entries.
#[derive(Debug)]
pub struct Authenticator {
    store: Store,
    configured: Vec<Known>,
    cache: RwLock<Cache>,
    refreshing: tokio::sync::Mutex<()>,
}

impl Authenticator {
    pub fn new(store: Store, probes: &[ProbeEntry]) -> Self {
        let configured = probes
            .iter()
            .filter_map(|p| {
                Some(Known {
                    sha256: unhex32(&p.token_sha256)?,
                    grant: Grant {
                        kind: TokenKind::Probe,
                        name: p.name.clone(),
                        region: Some(p.region.clone()),
                    },
                })
            })
            .collect();
        Self {
            store,
            configured,
            cache: RwLock::new(Cache {
                stored: Arc::new(Vec::new()),
                loaded: None,
            }),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The probe a request comes from.
    ///
    /// # Errors
    /// See [`AuthError`].
    pub async fn probe(&self, headers: &HeaderMap) -> Result<ProbeIdentity, AuthError> {
        let grant = self.grant(headers).await?;
        if grant.kind != TokenKind::Probe {
            return Err(AuthError::Forbidden(format!(
                "{} token cannot be used on probe endpoints",
                grant.kind.with_article()
            )));
        }
        let name =
            header(headers, PROBE_HEADER).ok_or(AuthError::MissingHeader("X-Sonde-Probe"))?;
        let region =
            header(headers, REGION_HEADER).ok_or(AuthError::MissingHeader("X-Sonde-Region"))?;
        let bound_region = grant.region.as_deref().unwrap_or_default();
        if name != grant.name || region != bound_region {
            return Err(AuthError::Forbidden(format!(
                "this token belongs to probe `{}` in `{bound_region}`, not `{name}` in `{region}`",
                grant.name
            )));
        }
        Ok(ProbeIdentity {
            name: name.to_owned(),
            region: region.to_owned(),
        })
    }

    /// The operator a request comes from.
    ///
    /// # Errors
    /// See [`AuthError`].
    pub async fn operator(&self, headers: &HeaderMap) -> Result<Grant, AuthError> {
        let grant = self.grant(headers).await?;
        if grant.kind != TokenKind::Operator {
            return Err(AuthError::Forbidden(format!(
                "{} token cannot be used on operator endpoints",
                grant.kind.with_article()
            )));
        }
        Ok(grant)
    }

    /// The viewer or operator a read request comes from.
    ///
    /// # Errors
    /// See [`AuthError`].
    pub async fn reader(&self, headers: &HeaderMap) -> Result<Grant, AuthError> {
        let grant = self.grant(headers).await?;
        if grant.kind == TokenKind::Probe {
            return Err(AuthError::Forbidden(
                "a probe token cannot be used on read endpoints; use a viewer or operator token"
                    .into(),
            ));
        }
        Ok(grant)
    }

    async fn grant(&self, headers: &HeaderMap) -> Result<Grant, AuthError> {
        let token = presented(headers).ok_or(AuthError::MissingToken)?;
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let asked = Instant::now();
        if self.loaded_within(REFRESH)
            && let Some(grant) = self.lookup(&hash)
        {
            return Ok(grant);
        }
        // Unknown (perhaps created a moment ago) or stale: re-read, unless
        // a re-read began after this request did. Re-reads are one at a
        // time, so a flood of bad tokens costs one query per round.
        self.refresh_since(asked).await?;
        self.lookup(&hash).ok_or(AuthError::UnknownToken)
    }

    fn lookup(&self, hash: &[u8; 32]) -> Option<Grant> {
        let stored = self.cache.read().map(|c| Arc::clone(&c.stored)).ok()?;
        // Compare with every token, no early exit.
        let mut found = None;
        for known in self.configured.iter().chain(stored.iter()) {
            if ct_eq(&known.sha256, hash) {
                found = Some(&known.grant);
            }
        }
        found.cloned()
    }

    fn loaded_at(&self) -> Option<Instant> {
        self.cache.read().ok().and_then(|c| c.loaded)
    }

    fn loaded_within(&self, age: Duration) -> bool {
        self.loaded_at().is_some_and(|at| at.elapsed() < age)
    }

    async fn refresh_since(&self, asked: Instant) -> Result<(), AuthError> {
        let _single = self.refreshing.lock().await;
        if self.loaded_at().is_some_and(|at| at >= asked) {
            return Ok(());
        }
        let started = Instant::now();
        let stored = self
            .store
            .read(|tx: &dyn Tx| load_active(tx))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "Reading tokens failed.");
                AuthError::Unavailable
            })?;
        if let Ok(mut cache) = self.cache.write() {
            cache.stored = Arc::new(stored);
            cache.loaded = Some(started);
        }
        Ok(())
    }
}

fn load_active(store: &dyn Tokens) -> Result<Vec<Known>, StoreError> {
    Ok(store
        .tokens(None)?
        .into_iter()
        .filter(|t| t.revoked_at.is_none())
        .filter_map(|t| {
            // A kind this build does not know grants nothing.
            let kind = TokenKind::parse(&t.kind)?;
            Some(Known {
                sha256: unhex32(&t.sha256)?,
                grant: Grant {
                    kind,
                    name: t.name,
                    region: t.region,
                },
            })
        })
        .collect())
}

/// The token of an `Authorization` header: `Bearer TOKEN`, or `Basic`
/// with the token as the password (the user name is ignored).
fn presented(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, credentials) = value.trim().split_once(' ')?;
    let credentials = credentials.trim();
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        credentials.to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_user, password) = decoded.split_once(':')?;
        password.to_owned()
    } else {
        return None;
    };
    (!token.is_empty()).then_some(token)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_hex_and_hash_to_64_hex_digits() {
        let token = generate_token().expect("randomness");
        assert!(token.starts_with(TOKEN_PREFIX));
        assert_eq!(token.len(), TOKEN_PREFIX.len() + 64);
        let hash = token_sha256(&token);
        assert_eq!(unhex32(&hash).map(|h| hex(&h)), Some(hash));
        assert_ne!(generate_token().expect("randomness"), token);
    }

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", value.parse().expect("value"));
        headers
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(presented(&HeaderMap::new()), None);
        let token = presented(&with_authorization("Bearer  abc "));
        assert_eq!(token.as_deref(), Some("abc"));
        assert_eq!(presented(&with_authorization("Bearer ")), None);
        assert_eq!(presented(&with_authorization("Digest abc")), None);
    }

    #[test]
    fn basic_parsing_takes_the_password_whatever_the_user() {
        let basic = |credentials: &str| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            presented(&with_authorization(&format!("Basic {encoded}")))
        };
        assert_eq!(basic("x:sonde_abc").as_deref(), Some("sonde_abc"));
        assert_eq!(basic(":sonde_abc").as_deref(), Some("sonde_abc"));
        // Only the first colon separates: the rest is the password.
        assert_eq!(basic("me:a:b").as_deref(), Some("a:b"));
        assert_eq!(basic("sonde_abc"), None, "no password");
        assert_eq!(basic("x:"), None);
        assert_eq!(presented(&with_authorization("Basic !!!")), None);
    }

    #[test]
    fn kinds_round_trip_and_unknown_ones_are_none() {
        for kind in [TokenKind::Probe, TokenKind::Operator, TokenKind::Viewer] {
            assert_eq!(TokenKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TokenKind::parse("admin"), None);
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(&[7; 32], &[7; 32]));
        let mut other = [7; 32];
        other[31] = 8;
        assert!(!ct_eq(&[7; 32], &other));
    }
}
