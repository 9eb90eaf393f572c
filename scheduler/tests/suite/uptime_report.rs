//! `GET /api/v1/reports/uptime` and the status page's daily bars, over a
//! hand-computed history fed through ingest: three days, two regions with
//! runs and one without, an outage that opens and resolves an incident, a
//! second one inside a maintenance window that keeps its runs out, and an
//! incident still open at the end.

use axum::http::StatusCode;
use chrono::{DateTime, TimeZone, Utc};
use scheduler::maintenance::{Source, Spec};
use serde_json::{Value, json};

use crate::alert_kit::{Fleet, run_at};

fn at(day: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, h, m, 0)
        .single()
        .unwrap()
}

fn db_upgrade() -> scheduler::maintenance::Window {
    Spec {
        name: "db-upgrade".into(),
        start: Some("2026-11-25T02:00:00Z".into()),
        cron: None,
        timezone: None,
        duration: "2h".into(),
        scenarios: Some(vec!["shop".into()]),
        match_labels: Default::default(),
        regions: Some(vec!["eu-west-1".into()]),
        exclude_from_slo: None,
    }
    .build("config/db-upgrade".into(), Source::Config)
    .unwrap()
}

/// Moves the clock to `t` and posts one run per (region, ok) there.
async fn runs(f: &Fleet, t: DateTime<Utc>, each: &[(&str, bool)]) {
    f.t.clock.set(t);
    f.touch_all().await;
    for (region, ok) in each {
        f.post(region, &[run_at(region, *ok, t)]).await;
    }
}

async fn history() -> Fleet {
    let f = Fleet::with("after = 1\nrecover_after = 1\nconfirm = false", |c| {
        c.maintenance = vec![db_upgrade()];
    })
    .await;
    let (eu, us) = ("eu-west-1", "us-east-1");
    // 24 Nov: eu down 10:10–10:30 (an incident of 20 min).
    runs(&f, at(24, 10, 0), &[(eu, true), (us, true)]).await;
    runs(&f, at(24, 10, 10), &[(eu, false), (us, true)]).await;
    runs(&f, at(24, 10, 20), &[(eu, false), (us, true)]).await;
    runs(&f, at(24, 10, 30), &[(eu, true)]).await;
    // 25 Nov: db-upgrade 02:00–04:00 in eu; down 02:30–04:30, the two
    // failures inside the window are left out; 30 min of downtime remain.
    runs(&f, at(25, 2, 30), &[(eu, false)]).await;
    runs(&f, at(25, 3, 30), &[(eu, false)]).await;
    runs(&f, at(25, 4, 30), &[(eu, true), (us, true)]).await;
    // 26 Nov: us down from 11:00, still at noon.
    runs(&f, at(26, 11, 0), &[(us, false)]).await;
    f.t.clock.set(at(26, 12, 0));
    f.touch_all().await;
    f.tick().await;
    f
}

fn region<'a>(report: &'a Value, name: &str) -> &'a Value {
    let shop = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scenario"] == "shop")
        .unwrap_or_else(|| panic!("{report}"));
    shop["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == name)
        .unwrap_or_else(|| panic!("{shop}"))
}

/// (date, runs, failed, excluded_runs, availability, downtime_s, maintenance_s)
type Day = (String, u64, u64, u64, Option<f64>, f64, f64);

fn days(r: &Value) -> Vec<Day> {
    r["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().to_owned(),
                d["runs"].as_u64().unwrap(),
                d["failed"].as_u64().unwrap(),
                d["excluded_runs"].as_u64().unwrap(),
                d["availability"].as_f64(),
                d["downtime_s"].as_f64().unwrap(),
                d["maintenance_s"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn day(
    date: &str,
    runs: u64,
    failed: u64,
    excluded: u64,
    availability: Option<f64>,
    downtime_s: f64,
    maintenance_s: f64,
) -> Day {
    let date = date.to_owned();
    (
        date,
        runs,
        failed,
        excluded,
        availability,
        downtime_s,
        maintenance_s,
    )
}

#[tokio::test]
async fn daily_figures_incidents_and_maintenance_match_the_history() {
    let f = history().await;
    let r =
        f.t.get("/api/v1/reports/uptime?from=2026-11-24&to=2026-11-26")
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let report = r.json();
    assert_eq!(report["from"], "2026-11-24T00:00:00.000Z");
    assert_eq!(report["to"], "2026-11-26T12:00:00.000Z", "capped at now");

    let eu = region(&report, "eu-west-1");
    assert_eq!(
        days(eu),
        [
            day("2026-11-24", 4, 2, 0, Some(0.5), 1200.0, 0.0),
            day("2026-11-25", 1, 0, 2, Some(1.0), 1800.0, 7200.0),
            day("2026-11-26", 0, 0, 0, None, 0.0, 0.0),
        ],
        "{eu}"
    );
    assert_eq!(
        (eu["runs"].as_u64(), eu["failed"].as_u64()),
        (Some(5), Some(2))
    );
    assert_eq!(eu["availability"], 0.6);
    assert_eq!(eu["downtime_s"], 3000.0);
    let incidents: Vec<(&str, &str, &str, Value, f64)> = eu["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap(),
                i["scope"].as_str().unwrap(),
                i["started_at"].as_str().unwrap(),
                i["ended_at"].clone(),
                i["duration_s"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        incidents,
        [
            (
                "shop/region/eu-west-1",
                "region",
                "2026-11-24T10:10:00.000Z",
                json!("2026-11-24T10:30:00.000Z"),
                1200.0
            ),
            (
                "shop/region/eu-west-1",
                "region",
                "2026-11-25T02:30:00.000Z",
                json!("2026-11-25T04:30:00.000Z"),
                7200.0
            ),
        ]
    );

    let us = region(&report, "us-east-1");
    assert_eq!(
        days(us),
        [
            day("2026-11-24", 3, 0, 0, Some(1.0), 0.0, 0.0),
            day("2026-11-25", 1, 0, 0, Some(1.0), 0.0, 0.0),
            day("2026-11-26", 1, 1, 0, Some(0.0), 3600.0, 0.0),
        ],
        "{us}"
    );
    let open = &us["incidents"][0];
    assert_eq!(open["ended_at"], Value::Null, "{us}");
    assert_eq!(open["duration_s"], 3600.0, "{us}");

    let ap = region(&report, "ap-southeast-1");
    assert!(
        days(ap).iter().all(|d| d.1 == 0 && d.4.is_none()),
        "days without runs are listed, without availability: {ap}"
    );
    assert_eq!(days(ap).len(), 3);
}

#[tokio::test]
async fn the_csv_holds_the_same_figures_as_the_json() {
    let f = history().await;
    let query = "/api/v1/reports/uptime?from=2026-11-24&to=2026-11-26";
    let json = f.t.get(query).await.json();
    let r = f.t.get(&format!("{query}&format=csv")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut reader = csv::Reader::from_reader(r.body.as_ref());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "date",
            "scenario",
            "region",
            "runs",
            "failed",
            "availability",
            "downtime_seconds",
            "maintenance_seconds"
        ]
    );
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let mut want = Vec::new();
    for s in json["scenarios"].as_array().unwrap() {
        for r in s["regions"].as_array().unwrap() {
            for d in r["days"].as_array().unwrap() {
                let number = |v: &Value| v.as_f64().map(|x| x.to_string()).unwrap_or_default();
                want.push(vec![
                    d["date"].as_str().unwrap().to_owned(),
                    s["scenario"].as_str().unwrap().to_owned(),
                    r["region"].as_str().unwrap().to_owned(),
                    d["runs"].to_string(),
                    d["failed"].to_string(),
                    number(&d["availability"]),
                    number(&d["downtime_s"]),
                    number(&d["maintenance_s"]),
                ]);
            }
        }
    }
    assert_eq!(rows, want);
    let eu_25 = rows
        .iter()
        .find(|r| r[0] == "2026-11-25" && r[1] == "shop" && r[2] == "eu-west-1")
        .unwrap();
    assert_eq!(eu_25[3..], ["1", "0", "1", "1800", "7200"]);
}

#[tokio::test]
async fn bad_parameters_are_answered_400_naming_the_parameter() {
    let f = Fleet::new("after = 1").await;
    let cases = [
        ("from=yesterday", "invalid `from` `yesterday`"),
        ("to=2026-13-01", "invalid `to` `2026-13-01`"),
        (
            "format=xml",
            "invalid `format` `xml`; expected `json` or `csv`",
        ),
        ("from=2026-11-20&to=2026-11-10", "`from`"),
        ("from=500d", "longer than 400 days"),
    ];
    for (query, want) in cases {
        let r = f.t.get(&format!("/api/v1/reports/uptime?{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text());
        let error = r.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(want), "{query}: {error}");
    }
    let r = f.t.get("/api/v1/reports/uptime?from=7d&to=1d").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = f.t.get("/api/v1/reports/uptime").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let report = r.json();
    assert_eq!(report["from"], "2026-10-25T10:00:00.000Z", "30 days back");
}

#[tokio::test]
async fn the_scenario_page_shows_90_daily_bars_coloured_by_availability() {
    let f = history().await;
    let r = f.t.get("/scenarios/shop").await;
    assert_eq!(r.status, StatusCode::OK);
    let page = r.text();
    let svg = page
        .split("<svg class=\"uptime\"")
        .nth(1)
        .and_then(|s| s.split("</svg>").next())
        .unwrap_or_else(|| panic!("no uptime bars: {page}"));
    assert_eq!(svg.matches("<rect ").count(), 90, "{svg}");
    let bar = |date: &str| {
        svg.split("<rect ")
            .find(|b| b.contains(&format!("data-date=\"{date}\"")))
            .unwrap_or_else(|| panic!("no bar for {date}: {svg}"))
            .to_owned()
    };
    // Both regions on 24 Nov: 7 counted runs, 2 failed.
    let worst = bar("2026-11-24");
    assert!(worst.contains("fill=\"#cf222e\""), "{worst}");
    assert!(
        worst.contains("<title>2026-11-24: 71.43% (7 runs, 2 failed)</title>"),
        "{worst}"
    );
    let good = bar("2026-11-25");
    assert!(good.contains("fill=\"#1a7f37\""), "{good}");
    let first = bar("2026-08-29");
    assert!(first.contains("fill=\"#d0d7de\""), "{first}");
    assert!(first.contains("2026-08-29: no data"), "{first}");
}

mod store {
    //! `Results::daily_counts` on both backends: grouped by UTC day, a
    //! failure retried counts by its retry only, excluded runs apart.

    use chrono::{DateTime, Utc};
    use scenarios::wire::RunResult;
    use scheduler::store::DayCounts;
    use scheduler::store::results::ResultRow;

    use super::at;
    use crate::store_kit::{TestStore, on_both_backends};

    on_both_backends!(daily_counts_group_by_day_and_count_last_attempts);

    fn row(scenario: &str, region: &str, outcome: &str, t: DateTime<Utc>) -> ResultRow {
        let json = crate::common::result(scenario, "p1", region, outcome, t);
        let result: RunResult = serde_json::from_value(json).unwrap();
        ResultRow::of(&result).unwrap()
    }

    async fn daily_counts_group_by_day_and_count_last_attempts(kit: TestStore) {
        let store = kit.open(0).await.unwrap();
        let first = row("shop", "eu", "failure", at(24, 23, 59));
        // Its retry passes, just after midnight: the failure does not count.
        let mut retry = row("shop", "eu", "success", at(25, 0, 0));
        retry.attempt = 2;
        retry.retry_of = Some(first.id);
        let mut excluded = row("shop", "eu", "failure", at(25, 3, 0));
        excluded.slo_excluded = true;
        let rows = [
            row("shop", "eu", "success", at(24, 10, 0)),
            row("shop", "eu", "timeout", at(24, 11, 0)),
            first,
            retry,
            excluded,
            row("shop", "us", "error", at(25, 5, 0)),
            row("other", "eu", "success", at(25, 6, 0)),
            // Outside the span asked for.
            row("shop", "eu", "failure", at(27, 0, 0)),
        ];
        store
            .write(move |tx| tx.insert_results(&mut rows.iter(), 0))
            .await
            .unwrap();
        let (from, to) = (
            at(24, 0, 0).timestamp_millis(),
            at(27, 0, 0).timestamp_millis(),
        );
        let all = store
            .read(move |tx| tx.daily_counts(None, from, to))
            .await
            .unwrap();
        let day = |t: DateTime<Utc>| t.timestamp_millis() / scheduler::store::DAY_MS;
        let counts = |scenario: &str, region: &str, d, runs, failed, excluded| DayCounts {
            scenario: scenario.into(),
            region: region.into(),
            day: day(d),
            runs,
            failed,
            excluded,
        };
        assert_eq!(
            all,
            [
                counts("other", "eu", at(25, 0, 0), 1, 0, 0),
                counts("shop", "eu", at(24, 0, 0), 2, 1, 0),
                counts("shop", "eu", at(25, 0, 0), 1, 0, 1),
                counts("shop", "us", at(25, 0, 0), 1, 1, 0),
            ]
        );
        let shop = store
            .read(move |tx| tx.daily_counts(Some("shop"), from, to))
            .await
            .unwrap();
        assert_eq!(shop, all[1..]);
    }
}
