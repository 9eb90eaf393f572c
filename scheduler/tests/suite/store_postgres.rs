//! What only the PostgreSQL store does: a partition per day of results,
//! retention that drops whole days, ids deduplicated across days,
//! migrations run once by processes that open the database together, and
//! TLS as `sslmode` asks.

use std::process::Command;

use chrono::Duration;
use scenarios::wire::RunResult;
use scheduler::store::results::ResultRow;
use scheduler::store::{Store, StoreError, retention};

use crate::postgres_kit::{fresh_database, server};

const BIN: &str = env!("CARGO_BIN_EXE_scheduler");

fn row(at: chrono::DateTime<chrono::Utc>) -> ResultRow {
    let json = crate::common::result("checkout", "p1", "eu-west-1", "success", at);
    let result: RunResult = serde_json::from_value(json.clone()).unwrap();
    ResultRow::from_raw(&result, &json.to_string())
}

/// The partitions of `results`, by name.
fn partitions(db: &str) -> Vec<String> {
    let listed = server().unwrap().psql(
        db,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'results'::regclass ORDER BY 1",
    );
    listed.lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn each_day_written_gets_its_partition() {
    let Some(url) = fresh_database("each_day_written_gets_its_partition") else {
        return;
    };
    let now = crate::common::t0();
    let store = Store::open_postgres(&url, now.timestamp_millis())
        .await
        .unwrap();
    // Opening made yesterday, today and the next two days.
    assert_eq!(
        partitions(&url.dbname),
        [
            "results_p20261123",
            "results_p20261124",
            "results_p20261125",
            "results_p20261126"
        ]
    );
    let rows = [row(now - Duration::days(10)), row(now + Duration::days(7))];
    let new = store
        .write(move |tx| tx.insert_results(&mut rows.iter(), 0))
        .await
        .unwrap();
    assert_eq!(new, [true, true]);
    let made = partitions(&url.dbname);
    assert!(made.contains(&"results_p20261114".to_owned()), "{made:?}");
    assert!(made.contains(&"results_p20261201".to_owned()), "{made:?}");
    let in_day = server()
        .unwrap()
        .psql(&url.dbname, "SELECT COUNT(*) FROM results_p20261114");
    assert_eq!(in_day, "1", "the row is in its day's partition");
    store.close().await;
}

#[tokio::test]
async fn retention_drops_whole_days_and_deletes_only_in_the_boundary_day() {
    let Some(url) = fresh_database("retention_drops_whole_days") else {
        return;
    };
    let now = crate::common::t0();
    let store = Store::open_postgres(&url, now.timestamp_millis())
        .await
        .unwrap();
    let cutoff = now - Duration::days(30);
    // 2026-10-25 10:00: three results on the days before, two on the
    // cutoff's own day before it, one after it, three today.
    let rows: Vec<ResultRow> = [
        cutoff - Duration::days(2),
        cutoff - Duration::days(1),
        cutoff - Duration::days(1) + Duration::seconds(1),
        cutoff - Duration::hours(2),
        cutoff - Duration::hours(1),
        cutoff + Duration::hours(1),
        now,
        now + Duration::seconds(1),
        now + Duration::seconds(2),
    ]
    .into_iter()
    .map(row)
    .collect();
    store
        .write(move |tx| tx.insert_results(&mut rows.iter(), 0))
        .await
        .unwrap();
    assert!(partitions(&url.dbname).contains(&"results_p20261023".to_owned()));
    let deleted = retention::delete_before(&store, cutoff.timestamp_millis())
        .await
        .unwrap();
    assert_eq!(deleted, 5, "three dropped with their days, two deleted");
    assert_eq!(store.read(|tx| tx.count_results()).await.unwrap(), 4);
    let left = partitions(&url.dbname);
    assert!(
        !left.contains(&"results_p20261023".to_owned())
            && !left.contains(&"results_p20261024".to_owned()),
        "old days dropped: {left:?}"
    );
    assert!(left.contains(&"results_p20261025".to_owned()), "{left:?}");
    let ids = server()
        .unwrap()
        .psql(&url.dbname, "SELECT COUNT(*) FROM result_ids");
    assert_eq!(ids, "4", "the ids of removed results go too");
    store.close().await;
}

#[tokio::test]
async fn a_result_sent_again_with_another_day_is_stored_once() {
    let Some(url) = fresh_database("a_result_sent_again_with_another_day") else {
        return;
    };
    let now = crate::common::t0();
    let store = Store::open_postgres(&url, now.timestamp_millis())
        .await
        .unwrap();
    let first = row(now);
    // The same id, started just over a day boundary: another partition.
    let mut again = first.clone();
    again.started_at = (now + Duration::days(1)).timestamp_millis();
    let sent = [first.clone(), first];
    let new = store
        .write(move |tx| tx.insert_results(&mut sent.iter(), 0))
        .await
        .unwrap();
    assert_eq!(new, [true, false], "a duplicate within one batch");
    let new = store
        .write(move |tx| tx.insert_results(&mut std::iter::once(&again), 0))
        .await
        .unwrap();
    assert_eq!(new, [false], "a duplicate in another day's partition");
    assert_eq!(store.read(|tx| tx.count_results()).await.unwrap(), 1);
    store.close().await;
}

#[tokio::test]
async fn two_processes_opening_a_new_database_migrate_it_once() {
    let Some(url) = fresh_database("two_processes_migrate_once") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    let config = dir.path().join("scheduler.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\nscenarios_dir = \"scenarios\"\ndatabase_url = \"postgres://postgres@127.0.0.1:{}/{}\"\n",
            url.port, url.dbname
        ),
    )
    .unwrap();
    let started: Vec<_> = ["p-eu-1", "p-us-1"]
        .into_iter()
        .map(|name| {
            Command::new(BIN)
                .args(["token", "create", "--name", name, "--region", "eu-west-1"])
                .arg("--config")
                .arg(&config)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in started {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let psql = |sql| server().unwrap().psql(&url.dbname, sql);
    assert_eq!(psql("SELECT COUNT(*) FROM schema_version"), "3");
    assert_eq!(psql("SELECT COUNT(*) FROM tokens"), "2");
    assert!(
        !dir.path().join("data/sonde.db").exists(),
        "no SQLite file beside a database_url"
    );
}

#[tokio::test]
async fn sslmode_require_against_a_server_without_tls_says_so() {
    // What a server without TLS answers to the client's SSLRequest: `N`.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let plain = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 8];
            if socket.read_exact(&mut request).await.is_ok() {
                let _ = socket.write_all(b"N").await;
            }
        }
    });
    let require = scheduler::config::DatabaseUrl::parse(&format!(
        "postgres://sonde@127.0.0.1:{port}/sonde?sslmode=require"
    ))
    .unwrap();
    let err = Store::open_postgres(&require, 0).await.unwrap_err();
    plain.abort();
    let text = err.to_string();
    assert!(
        matches!(err, StoreError::Postgres { code: None, .. }),
        "{err:?}"
    );
    assert!(text.contains("server does not support TLS"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{port}/sonde")),
        "names the database: {text}"
    );
}

#[tokio::test]
async fn sslmode_prefer_and_verify_full_connect_over_tls_and_verify_checks_the_ca() {
    let Some(url) = fresh_database("sslmode_verify") else {
        return;
    };
    let server = server().unwrap();
    // Whether the connections named `name` are encrypted, as the server
    // sees them.
    let over_tls = |name: &str| {
        server.psql(
            &url.dbname,
            &format!(
                "SELECT string_agg(DISTINCT s.ssl::text, ',') FROM pg_stat_ssl s
                 JOIN pg_stat_activity a USING (pid) WHERE a.application_name = '{name}'"
            ),
        )
    };
    // The default, prefer, takes the TLS the test server offers.
    let prefer = crate::postgres_kit::parse(&server.url(&url.dbname, "?application_name=prefer"));
    let store = Store::open_postgres(&prefer, 0).await.unwrap();
    assert_eq!(
        over_tls("prefer"),
        "true",
        "its pooled connection is encrypted"
    );
    store.close().await;
    let verified = server.url(
        &url.dbname,
        &format!(
            "?sslmode=verify-full&sslrootcert={}",
            server.ca_file.display()
        ),
    );
    let store = Store::open_postgres(&crate::postgres_kit::parse(&verified), 0)
        .await
        .unwrap();
    store.close().await;
    // The public roots do not know the test CA.
    let public = crate::postgres_kit::parse(&server.url(&url.dbname, "?sslmode=verify-ca"));
    let err = Store::open_postgres(&public, 0).await.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    let disable = server.url(&url.dbname, "?sslmode=disable&application_name=plain");
    let store = Store::open_postgres(&crate::postgres_kit::parse(&disable), 0)
        .await
        .unwrap();
    assert_eq!(over_tls("plain"), "false", "plain TCP with disable");
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_without_sqlstate() {
    let port = sonde_tests::free_port().unwrap();
    let url = scheduler::config::DatabaseUrl::parse(&format!(
        "postgres://postgres@127.0.0.1:{port}/none?connect_timeout=5"
    ))
    .unwrap();
    let err = Store::open_postgres(&url, 0).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Postgres { code: None, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("cannot connect"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_sharing_ids_in_opposite_orders_both_succeed() {
    let Some(url) = fresh_database("batches_in_opposite_orders") else {
        return;
    };
    let now = crate::common::t0();
    let store = Store::open_postgres(&url, now.timestamp_millis())
        .await
        .unwrap();
    // Each transaction waits for the other's rows: taken in opposite
    // orders, that would be a deadlock and one batch would fail.
    for round in 0..5 {
        let forward: Vec<ResultRow> = (0..200)
            .map(|i| row(now + Duration::seconds(round * 1_000 + i)))
            .collect();
        let backward: Vec<ResultRow> = forward.iter().rev().cloned().collect();
        let writers = [forward, backward].map(|batch| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(move |tx| tx.insert_results(&mut batch.iter(), 0))
                    .await
            })
        });
        let mut new = 0;
        for w in writers {
            new += w.await.unwrap().unwrap().iter().filter(|n| **n).count();
        }
        assert_eq!(new, 200, "round {round}: each id new once");
    }
    store.close().await;
}
