//! One store suite, two backends: a test written once as
//! `async fn name(store: TestStore)` runs on SQLite and on PostgreSQL
//! through [`on_both_backends!`].

use scheduler::config::DatabaseUrl;
use scheduler::store::{Store, StoreError};

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty store of one backend (not opened yet).
#[derive(Debug)]
pub struct TestStore {
    pub backend: Backend,
    /// The SQLite file's dir (unused on PostgreSQL but for scratch).
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database.
    pub url: Option<DatabaseUrl>,
}

impl TestStore {
    /// `None` (after saying why) when the backend is not available here.
    pub fn new(backend: Backend, test: &str) -> Option<TestStore> {
        let url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(crate::postgres_kit::fresh_database(test)?),
        };
        Some(TestStore {
            backend,
            dir: tempfile::tempdir().unwrap(),
            url,
        })
    }

    pub fn sqlite_path(&self) -> std::path::PathBuf {
        self.dir.path().join("s.db")
    }

    /// Opens (migrating) the store, as the scheduler does.
    pub async fn open(&self, now_ms: i64) -> Result<Store, StoreError> {
        match &self.url {
            Some(url) => Store::open_postgres(url, now_ms).await,
            None => Store::open(&self.sqlite_path(), now_ms).await,
        }
    }

    /// Runs one statement straight on the database, behind the store's
    /// back; the first column of the first row, as text, for a query.
    pub fn sql(&self, sql: &str) -> String {
        match &self.url {
            Some(url) => {
                let server = crate::postgres_kit::server().unwrap();
                server.psql(&url.dbname, sql)
            }
            None => {
                let conn = rusqlite::Connection::open(self.sqlite_path()).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                if stmt.column_count() == 0 {
                    stmt.execute([]).unwrap();
                    return String::new();
                }
                let value: rusqlite::types::Value = stmt.query_row([], |r| r.get(0)).unwrap();
                match value {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Real(f) => f.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    rusqlite::types::Value::Null => String::new(),
                    rusqlite::types::Value::Blob(b) => format!("{b:?}"),
                }
            }
        }
    }
}

/// For each `async fn name(store: TestStore)` named, a test
/// `on_sqlite::name` and a test `on_postgres::name`.
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let backend = crate::store_kit::Backend::Sqlite;
                    if let Some(store) = crate::store_kit::TestStore::new(backend, stringify!($test)) {
                        super::$test(store).await;
                    }
                }
            )+
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let backend = crate::store_kit::Backend::Postgres;
                    if let Some(store) = crate::store_kit::TestStore::new(backend, stringify!($test)) {
                        super::$test(store).await;
                    }
                }
            )+
        }
    };
}
pub(crate) use on_both_backends;

/// The environment variable that runs the whole suite's schedulers and
/// notifier fixtures on PostgreSQL: `SONDE_TEST_STORE=postgres cargo test
/// -p sonde-scheduler --test suite`. Unset (or `sqlite`): SQLite.
pub const STORE_ENV: &str = "SONDE_TEST_STORE";

/// A fresh PostgreSQL database when [`STORE_ENV`] asks for one.
///
/// # Panics
/// When it asks for PostgreSQL and there is none: the run was meant to
/// test that backend.
pub fn database_from_env(test: &str) -> Option<DatabaseUrl> {
    match std::env::var(STORE_ENV).as_deref() {
        Ok("postgres") => match crate::postgres_kit::server() {
            Ok(_) => crate::postgres_kit::fresh_database(test),
            Err(why) => panic!("{STORE_ENV}=postgres, but: {why}"),
        },
        Ok("sqlite") | Ok("") | Err(_) => None,
        Ok(other) => panic!("{STORE_ENV}={other}: expected sqlite or postgres"),
    }
}
