//! `database_url`: where a PostgreSQL store lives, checked when the
//! configuration loads so a typo fails at start-up with its place, not at
//! the first query.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How the connection to the database is protected, as libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, else plain (the default).
    Prefer,
    /// TLS or nothing; the certificate is not checked.
    Require,
    /// TLS with a certificate signed by a trusted authority.
    VerifyCa,
    /// As `verify-ca`, and the certificate names the host.
    VerifyFull,
}

impl SslMode {
    /// Every mode, as written in a URL.
    pub const ALL: [(&'static str, SslMode); 5] = [
        ("disable", SslMode::Disable),
        ("prefer", SslMode::Prefer),
        ("require", SslMode::Require),
        ("verify-ca", SslMode::VerifyCa),
        ("verify-full", SslMode::VerifyFull),
    ];
}

/// A checked `postgres://` URL. Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub user: String,
    pub password: Option<String>,
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub sslmode: SslMode,
    /// `sslrootcert`: PEM file of the authorities trusted for
    /// `verify-ca`/`verify-full` (else the public web roots).
    pub sslrootcert: Option<PathBuf>,
    pub connect_timeout: Option<Duration>,
    pub application_name: Option<String>,
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for DatabaseUrl {
    /// The URL without its password, for logs and errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "postgres://{}@{}:{}/{}",
            self.user, self.host, self.port, self.dbname
        )
    }
}

/// The default PostgreSQL port.
const DEFAULT_PORT: u16 = 5432;

impl DatabaseUrl {
    /// Parses `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…]`.
    ///
    /// # Errors
    /// A message saying what part is wrong and what was expected.
    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        let url = url::Url::parse(text)
            .map_err(|e| format!("not a URL ({e}): expected `postgres://USER@HOST:PORT/DB`"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(format!(
                "unknown scheme `{}`: expected `postgres://` or `postgresql://`",
                url.scheme()
            ));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err("no host: expected `postgres://USER@HOST:PORT/DB`".into()),
        };
        let user = decode(url.username(), "user")?;
        if user.is_empty() {
            return Err("no user: expected `postgres://USER@HOST:PORT/DB`".into());
        }
        let password = url.password().map(|p| decode(p, "password")).transpose()?;
        let dbname = decode(url.path().trim_start_matches('/'), "database name")?;
        if dbname.is_empty() || dbname.contains('/') {
            return Err(format!(
                "database name `{dbname}`: expected one path segment, `postgres://USER@HOST:PORT/DB`"
            ));
        }
        let mut parsed = DatabaseUrl {
            user,
            password,
            host,
            port: url.port().unwrap_or(DEFAULT_PORT),
            dbname,
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            connect_timeout: None,
            application_name: None,
        };
        for (key, value) in url.query_pairs() {
            parsed.option(&key, &value)?;
        }
        Ok(parsed)
    }

    /// One `?key=value` of the URL.
    fn option(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "sslmode" => {
                self.sslmode = SslMode::ALL
                    .iter()
                    .find(|(name, _)| *name == value)
                    .map(|(_, mode)| *mode)
                    .ok_or_else(|| {
                        format!(
                            "unknown sslmode `{value}`: expected disable, prefer, require, verify-ca or verify-full"
                        )
                    })?;
            }
            "sslrootcert" => self.sslrootcert = Some(PathBuf::from(value)),
            "connect_timeout" => {
                let secs: u64 = value
                    .parse()
                    .map_err(|_| format!("connect_timeout `{value}`: expected whole seconds"))?;
                self.connect_timeout = Some(Duration::from_secs(secs));
            }
            "application_name" => self.application_name = Some(value.to_owned()),
            other => {
                return Err(format!(
                    "unknown parameter `{other}`: expected sslmode, sslrootcert, connect_timeout or application_name"
                ));
            }
        }
        Ok(())
    }
}

fn decode(text: &str, what: &str) -> Result<String, String> {
    percent_decode(text).ok_or_else(|| format!("the {what} is not valid percent-encoded UTF-8"))
}

/// `%XX` escapes of a URL part, decoded.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_url_parses_and_hides_its_password() {
        let url = DatabaseUrl::parse(
            "postgresql://sonde:s%40cret@db.example.com:6432/sonde?sslmode=verify-full&connect_timeout=5",
        )
        .expect("valid");
        assert_eq!(url.user, "sonde");
        assert_eq!(url.password.as_deref(), Some("s@cret"));
        assert_eq!((url.host.as_str(), url.port), ("db.example.com", 6432));
        assert_eq!(url.dbname, "sonde");
        assert_eq!(url.sslmode, SslMode::VerifyFull);
        assert_eq!(url.connect_timeout, Some(Duration::from_secs(5)));
        assert!(!format!("{url:?}{url}").contains("cret"));
    }

    #[test]
    fn sslmode_defaults_to_prefer_and_the_port_to_5432() {
        let url = DatabaseUrl::parse("postgres://u@127.0.0.1/d").expect("valid");
        assert_eq!((url.sslmode, url.port), (SslMode::Prefer, 5432));
    }

    #[test]
    fn bad_urls_say_what_was_expected() {
        for (text, says) in [
            ("mysql://u@h/d", "unknown scheme `mysql`"),
            ("postgres://u@h/d?sslmode=maybe", "unknown sslmode `maybe`"),
            ("postgres://u@h/d?pool=3", "unknown parameter `pool`"),
            ("postgres://h/d", "no user"),
            ("postgres://u@h/", "database name"),
            ("not a url", "not a URL"),
        ] {
            let err = DatabaseUrl::parse(text).expect_err(text);
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
