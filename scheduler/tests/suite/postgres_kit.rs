//! The test kit's PostgreSQL (`sonde_tests::postgres`), its URLs parsed
//! as the scheduler's `database_url`.

use scheduler::config::DatabaseUrl;
pub use sonde_tests::postgres::server;

/// A fresh database, or `None` after printing why PostgreSQL tests are
/// skipped.
pub fn fresh_database(test: &str) -> Option<DatabaseUrl> {
    sonde_tests::postgres::fresh_database(test).map(|url| parse(&url))
}

/// A test URL as the scheduler reads it.
pub fn parse(url: &str) -> DatabaseUrl {
    DatabaseUrl::parse(url).expect("test URL")
}
