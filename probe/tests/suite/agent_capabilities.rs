//! The agent announces what it can run on every plan request: `browser`
//! when it was given a browser, nothing otherwise, so the scheduler never
//! hands a browser scenario to a probe that would report `no_browser`.

use std::time::Duration;

use crate::agent_support::{FakeScheduler, InProcessAgent, plan};

/// The `X-Sonde-Capabilities` values of the plan requests of an agent
/// started with `browser_path`, once it has asked twice.
async fn announced(browser_path: Option<std::path::PathBuf>) -> Vec<Option<String>> {
    let fake = FakeScheduler::start().await;
    fake.set_plan(plan(1, Vec::new()));
    let dir = tempfile::tempdir().expect("tempdir");
    let agent = InProcessAgent::start_browsing(
        vec![fake.url()],
        &dir.path().join("spool"),
        Duration::from_secs(2),
        browser_path,
    )
    .await;
    fake.wait_until("two plan requests", Duration::from_secs(15), |f| {
        f.plan_requests().len() >= 2
    })
    .await;
    agent.stop(Duration::from_secs(10)).await;
    fake.plan_requests()
        .iter()
        .map(|h| {
            h.get("x-sonde-capabilities")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn a_probe_given_a_browser_path_announces_the_browser() {
    // The browser starts on the first browser step, and this plan has
    // none: any existing file stands in for Chromium.
    let dir = tempfile::tempdir().expect("tempdir");
    let chromium = dir.path().join("chromium");
    std::fs::write(&chromium, "").expect("stand-in");
    let values = announced(Some(chromium)).await;
    assert!(
        values.iter().all(|v| v.as_deref() == Some("browser")),
        "every plan request announces it: {values:?}"
    );
}

#[tokio::test]
async fn a_probe_without_a_browser_announces_nothing() {
    let values = announced(None).await;
    assert!(values.iter().all(Option::is_none), "{values:?}");
}
