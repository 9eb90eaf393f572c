//! `scheduler migrate --from-sqlite`: an SQLite store's results and token
//! hashes end up in PostgreSQL exactly once, however often it runs, and
//! bad targets or sources are refused with a clear message.

use std::path::Path;
use std::process::{Command, Output};

use chrono::Duration;
use scenarios::wire::RunResult;
use scheduler::store::Store;
use scheduler::store::results::ResultRow;
use scheduler::store::tokens::TokenRow;

use crate::postgres_kit::fresh_database;

const BIN: &str = env!("CARGO_BIN_EXE_scheduler");

fn migrate(config: &Path, source: &Path) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .arg("migrate")
        .arg("--from-sqlite")
        .arg(source)
        .output()
        .unwrap()
}

fn config_file(dir: &Path, database_url: Option<String>) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    let config = dir.join("scheduler.toml");
    let mut text = "data_dir = \"data\"\nscenarios_dir = \"scenarios\"\n".to_owned();
    if let Some(url) = database_url {
        text.push_str(&format!("database_url = \"{url}\"\n"));
    }
    std::fs::write(&config, text).unwrap();
    config
}

#[tokio::test]
async fn results_and_tokens_are_copied_once() {
    let Some(url) = fresh_database("results_and_tokens_are_copied_once") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.db");
    let now = crate::common::t0();
    let sqlite = Store::open(&source, now.timestamp_millis()).await.unwrap();
    let rows: Vec<ResultRow> = (0..7)
        .map(|i| {
            let (scenario, region) = [("checkout", "eu-west-1"), ("login", "us-east-1")][i % 2];
            let json = crate::common::result(
                scenario,
                "p1",
                region,
                "success",
                now + Duration::seconds(i as i64),
            );
            let result: RunResult = serde_json::from_value(json.clone()).unwrap();
            ResultRow::from_raw(&result, &json.to_string())
        })
        .collect();
    sqlite
        .write(move |tx| {
            tx.insert_results(&mut rows.iter(), 0)?;
            tx.insert_token(&TokenRow {
                id: "tok-1".into(),
                name: "p-eu-1".into(),
                region: Some("eu-west-1".into()),
                kind: "probe".into(),
                sha256: "ab".repeat(32),
                created_at: 1,
                revoked_at: None,
            })
        })
        .await
        .unwrap();
    sqlite.close().await;
    let before = std::fs::read(&source).unwrap();
    let config = config_file(
        dir.path(),
        Some(format!(
            "postgres://postgres@127.0.0.1:{}/{}",
            url.port, url.dbname
        )),
    );

    let first = migrate(&config, &source);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{first:?}");
    assert!(
        stdout.contains("results: 7 copied, 0 already present"),
        "{stdout}"
    );
    assert!(stdout.contains("tokens: 1 copied"), "{stdout}");
    assert!(
        !stdout.contains(&"ab".repeat(32)),
        "a hash printed: {stdout}"
    );

    let again = migrate(&config, &source);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{again:?}");
    assert!(
        stdout.contains("results: 0 copied, 7 already present"),
        "{stdout}"
    );
    assert!(
        stdout.contains("tokens: 0 copied, 1 already present"),
        "{stdout}"
    );

    let pg = Store::open_postgres(&url, now.timestamp_millis())
        .await
        .unwrap();
    assert_eq!(pg.read(|tx| tx.count_results()).await.unwrap(), 7);
    let tokens = pg.read(|tx| tx.tokens(None)).await.unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].sha256, "ab".repeat(32));
    pg.close().await;
    assert_eq!(std::fs::read(&source).unwrap(), before, "source changed");
}

#[test]
fn a_config_without_database_url_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), None);
    let out = migrate(&config, &dir.path().join("x.db"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("migrate copies into PostgreSQL; set database_url"),
        "{stderr}"
    );
}

#[test]
fn a_missing_or_foreign_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(
        dir.path(),
        Some("postgres://postgres@127.0.0.1:1/none".to_owned()),
    );
    let missing = migrate(&config, &dir.path().join("missing.db"));
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("missing.db: cannot open"));
    assert!(!dir.path().join("missing.db").exists(), "source created");
    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, "just some text, not a database").unwrap();
    let out = migrate(&config, &foreign);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Sonde store"));
}
