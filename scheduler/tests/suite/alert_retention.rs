//! Alert history retention: resolved alerts, their timelines, ended
//! silences and old events go once they are older than the cutoff; a
//! firing alert stays whatever its age, with its timeline.

use scheduler::clock::Clock;
use scheduler::store::retention::{self, AlertHistoryDeleted};
use serde_json::json;

use crate::alert_kit::{Fleet, firing, resolved, summary};

async fn count(f: &Fleet, table: &'static str) -> i64 {
    // Read from the database itself: the interface counts no tables.
    let sql = format!("SELECT COUNT(*) FROM {table}");
    if let Some(url) = &f.t.app.config.database_url {
        let server = crate::postgres_kit::server().unwrap();
        return server.psql(&url.dbname, &sql).parse().unwrap();
    }
    let conn = rusqlite::Connection::open(f.t.app.config.store_path()).unwrap();
    conn.query_row(&sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn old_alert_history_is_deleted_and_firing_alerts_stay() {
    let f = Fleet::new("after = 1\nconfirm = false").await;
    let ops = f.operator().await;
    let silence = json!({"scenario": "shop", "duration": "1m", "comment": "short"});
    let r = f
        .send_json("POST", "/api/v1/silences", Some(&ops), Some(silence))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    f.t.clock.advance(std::time::Duration::from_secs(120));
    f.touch_all().await;
    f.tick().await;

    // eu-west-1 fails and recovers; us-east-1 fails and stays down.
    f.post("eu-west-1", &[f.run("eu-west-1", false, 100)]).await;
    f.post("eu-west-1", &[f.run("eu-west-1", true, 110)]).await;
    f.post("us-east-1", &[f.run("us-east-1", false, 111)]).await;
    assert_eq!(
        summary(&f.events().await),
        [
            firing("shop/region/eu-west-1"),
            resolved("shop/region/eu-west-1"),
            firing("shop/region/us-east-1")
        ]
    );

    // A cutoff before all of it deletes nothing.
    let before = f.t.clock.now_ms() - 3_600_000;
    let none = retention::delete_alert_history_before(&f.t.app.store, before)
        .await
        .unwrap();
    assert_eq!(none, AlertHistoryDeleted::default());

    let after = f.t.clock.now_ms() + 1;
    let deleted = retention::delete_alert_history_before(&f.t.app.store, after)
        .await
        .unwrap();
    assert_eq!(deleted.alerts, 1, "{deleted:?}");
    assert_eq!(deleted.silences, 1, "{deleted:?}");
    // Three events; the newest is kept as the notifiers' resume point.
    assert_eq!(deleted.events, 2, "{deleted:?}");

    let alerts = f.t.get("/api/v1/alerts").await.json();
    assert_eq!(alerts["recent"], json!([]), "{alerts}");
    let open = alerts["open"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{alerts}");
    assert_eq!(open[0]["id"], "shop/region/us-east-1");
    assert_eq!(open[0]["timeline"][0]["kind"], "fired");
    // The resolved alert's timeline went with it (ON DELETE CASCADE).
    let timeline_rows = count(&f, "alert_timeline").await;
    assert_eq!(
        timeline_rows,
        i64::try_from(open[0]["timeline"].as_array().unwrap().len()).unwrap()
    );
    assert_eq!(count(&f, "silences").await, 0);

    // The engine goes on: the firing alert still resolves.
    f.post("us-east-1", &[f.run("us-east-1", true, 130)]).await;
    let events = f.events().await;
    assert_eq!(
        summary(&events).last().unwrap(),
        &resolved("shop/region/us-east-1")
    );
}
