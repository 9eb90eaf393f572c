//! A restart while an alert fires: the alert is restored, not paged
//! again, and its resolve is emitted exactly once.

use crate::alert_kit::{firing, resolved, summary};
use crate::common::TestApp;

#[tokio::test]
async fn a_restart_while_firing_neither_repages_nor_loses_the_resolve() {
    let f = crate::alert_kit::Fleet::new("after = 2\nconfirm = false").await;
    f.post(
        "eu-west-1",
        &[f.run("eu-west-1", false, 0), f.run("eu-west-1", false, 30)],
    )
    .await;
    assert_eq!(
        summary(&f.events().await),
        [firing("shop/region/eu-west-1")]
    );
    let tokens = f.tokens.clone();

    let t: TestApp = f.t.restart().await;
    let f = crate::alert_kit::Fleet { t, tokens };
    f.touch_all().await;
    f.tick().await;
    // Another failure after the restart: still the same alert.
    f.post("eu-west-1", &[f.run("eu-west-1", false, 60)]).await;
    f.tick().await;
    assert_eq!(f.events().await.len(), 1, "no second page");
    assert_eq!(f.state("eu-west-1").await, "down");
    let alerts = f.t.get("/api/v1/alerts").await.json();
    assert_eq!(alerts["open"][0]["id"], "shop/region/eu-west-1");

    f.post("eu-west-1", &[f.run("eu-west-1", true, 90)]).await;
    f.tick().await;
    let t = f.t.restart().await;
    scheduler::evaluate::tick(&t.app).await.unwrap();
    assert_eq!(
        summary(&crate::alert_kit::events(&t).await),
        [
            firing("shop/region/eu-west-1"),
            resolved("shop/region/eu-west-1")
        ]
    );
}
