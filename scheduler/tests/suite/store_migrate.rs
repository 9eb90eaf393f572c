//! `scheduler migrate --from-sqlite`: an SQLite store's results and token
//! hashes end up in PostgreSQL exactly once, however often it runs; a
//! scheduler on the migrated database answers the read API as the one on
//! SQLite did; bad targets or sources are refused with a clear message.

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

/// One `scheduler serve` on `config`, stopped when dropped.
struct Serving {
    port: u16,
    child: sonde_tests::ChildGuard,
}

impl Serving {
    async fn start(dir: &Path, config: &Path, name: &str) -> Serving {
        let port = sonde_tests::free_port().unwrap();
        let text = std::fs::read_to_string(config).unwrap();
        let text = text
            .lines()
            .filter(|l| !l.starts_with("listen"))
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(config, format!("listen = \"127.0.0.1:{port}\"\n{text}\n")).unwrap();
        let child = sonde_tests::Spawn::new(BIN)
            .name(name)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .current_dir(dir)
            .start()
            .unwrap();
        sonde_tests::wait_for_http(
            &format!("http://127.0.0.1:{port}/readyz"),
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap();
        Serving { port, child }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn call(
        &self,
        method: hyper::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> sonde_tests::TestResponse {
        sonde_tests::TestClient::new()
            .timeout(std::time::Duration::from_secs(10))
            .request(method, &self.url(path), headers, body.map(Into::into))
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> serde_json::Value {
        let answer = self.call(hyper::Method::GET, path, headers, None).await;
        assert_eq!(answer.status.as_u16(), 200, "{path}: {}", answer.text());
        answer.json().unwrap()
    }
}

fn token(dir: &Path, config: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["token", "create"])
        .args(args)
        .arg("--config")
        .arg(config)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// What the read API says of a store's history, with what moves with
/// the clock (`up`, the page's relative times) left out.
async fn answers(s: &Serving, operator: &str) -> Vec<(String, serde_json::Value)> {
    let auth = format!("Bearer {operator}");
    let mut out = Vec::new();
    for path in [
        "/api/v1/scenarios/api/runs?limit=100",
        "/api/v1/alerts",
        "/api/v1/silences",
        "/api/v1/reports/alerts?since=7d",
        "/api/v1/audit",
    ] {
        let mut answer = s.get(path, &[("authorization", &auth)]).await;
        // The report's span ends now.
        if let Some(report) = answer.as_object_mut() {
            report.remove("since");
            report.remove("until");
        }
        out.push((path.to_owned(), answer));
    }
    let mut probes = s.get("/api/v1/probes", &[]).await;
    for p in probes["probes"].as_array_mut().into_iter().flatten() {
        if let Some(p) = p.as_object_mut() {
            p.remove("up");
        }
    }
    out.push(("/api/v1/probes".to_owned(), probes["probes"].clone()));
    let scenario = s.get("/api/v1/scenarios/api", &[]).await;
    let states: Vec<(serde_json::Value, serde_json::Value)> = scenario["regions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["region"].clone(), r["state"].clone()))
        .collect();
    out.push((
        "/api/v1/scenarios/api states".to_owned(),
        serde_json::json!(states),
    ));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_store_answers_the_same_api_from_postgresql() {
    let Some(url) = fresh_database("a_migrated_store_answers_the_same_api") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), None);
    std::fs::write(
        dir.path().join("scenarios/api.toml"),
        "name = \"api\"\ninterval = \"30s\"\nregions = [\"eu-west-1\", \"us-east-1\"]\n\n\
         [[steps]]\nname = \"health\"\nget = \"http://127.0.0.1:9/healthz\"\nexpect = [\"status == 200\"]\n\n\
         [alert]\nafter = 2\n",
    )
    .unwrap();
    let extra = "probe_silence = \"1h\"\n";
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}{extra}")).unwrap();
    let operator = token(dir.path(), &config, &["--operator", "--name", "ops"]);
    let probe = token(
        dir.path(),
        &config,
        &["--name", "p-eu-1", "--region", "eu-west-1"],
    );

    // History on SQLite: an incident that fired and resolved, passing runs
    // in another region's probe, a silence, audit entries.
    let sqlite = Serving::start(dir.path(), &config, "on-sqlite").await;
    let auth = format!("Bearer {probe}");
    let post = |ok: bool| {
        let outcome = if ok { "success" } else { "failure" };
        let result =
            crate::common::result("api", "p-eu-1", "eu-west-1", outcome, chrono::Utc::now());
        crate::common::batch(&[result]).to_string()
    };
    let headers = [
        ("authorization", auth.as_str()),
        ("x-sonde-probe", "p-eu-1"),
        ("x-sonde-region", "eu-west-1"),
        ("content-type", "application/json"),
    ];
    for ok in [true, false, false, false, true, true] {
        let answer = sqlite
            .call(
                hyper::Method::POST,
                "/api/v1/results",
                &headers,
                Some(post(ok)),
            )
            .await;
        assert_eq!(answer.status.as_u16(), 200, "{}", answer.text());
    }
    let op = format!("Bearer {operator}");
    let silence = serde_json::json!({"scenario": "api", "region": "us-east-1", "duration": "2h", "comment": "moving racks"});
    let answer = sqlite
        .call(
            hyper::Method::POST,
            "/api/v1/silences",
            &[
                ("authorization", op.as_str()),
                ("content-type", "application/json"),
            ],
            Some(silence.to_string()),
        )
        .await;
    assert!(answer.status.is_success(), "{}", answer.text());
    let before = answers(&sqlite, &operator).await;
    let recent = &before[1].1["recent"];
    assert_eq!(
        recent.as_array().map(Vec::len),
        Some(1),
        "one resolved alert: {recent}"
    );
    // Stopped as an operator would before migrating: SIGTERM.
    let mut sqlite = sqlite;
    sqlite
        .child
        .terminate(std::time::Duration::from_secs(15))
        .await
        .unwrap();

    let db = format!("postgres://postgres@127.0.0.1:{}/{}", url.port, url.dbname);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}database_url = \"{db}\"\n")).unwrap();
    let migrated = migrate(&config, &dir.path().join("data/sonde.db"));
    assert!(migrated.status.success(), "{migrated:?}");
    let on_pg = Serving::start(dir.path(), &config, "on-postgres").await;
    let after = answers(&on_pg, &operator).await;
    for ((path, was), (_, is)) in before.iter().zip(&after) {
        assert_eq!(was, is, "{path} answers the same after the migration");
    }
    // The probe's token works against PostgreSQL.
    let answer = on_pg
        .call(
            hyper::Method::POST,
            "/api/v1/results",
            &headers,
            Some(post(true)),
        )
        .await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text());
}
