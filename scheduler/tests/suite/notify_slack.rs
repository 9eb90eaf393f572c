//! Slack incoming webhooks: Block Kit with the facts on-call needs.

use scheduler::config::NotifierKind;

use crate::notify_support::{Fixture, Receiver, alert, entry, fast, firing, resolved};

#[tokio::test]
async fn slack_gets_blocks_with_step_and_expected_vs_actual() {
    let receiver = Receiver::start(&[]).await;
    let mut f = Fixture::new().await;
    f.start(
        &[entry(NotifierKind::Slack, &receiver.url("/services/T/B/X"))],
        &fast(),
    );
    let a = alert("eu-west-1");
    f.push(&firing(&a)).await;
    let seen = receiver.wait_for(1).await;
    let msg = seen[0].json();
    let text = msg["text"].as_str().unwrap();
    assert!(text.contains("checkout is down in eu-west-1"), "{text}");
    let blocks = msg["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let fields: Vec<String> = blocks
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .map(|f| f["text"].as_str().unwrap().to_owned())
        .collect();
    for want in [
        "*Scenario*\ncheckout",
        "*Scope*\nregion",
        "*Regions*\neu-west-1",
        "*Severity*\ncritical",
        "*Step*\ncheckout",
        "*Expected vs actual*\nexpected 200, got 503",
        "*Confirmation*\npassed from us-east-1 (the failure is regional)",
        "*Trace id*\n4bf92f3577b34da6a3ce929d0e0e4736",
    ] {
        assert!(
            fields.iter().any(|f| f == want),
            "{want:?} not in {fields:?}"
        );
    }
    let links = msg.to_string();
    assert!(
        links.contains("https://runbooks.example.com/checkout"),
        "{links}"
    );
    assert!(links.contains("/api/v1/scenarios/checkout"), "{links}");
    assert!(
        links.contains("https://jaeger.example.com/trace/4bf92f3577b34da6a3ce929d0e0e4736"),
        "{links}"
    );

    f.push(&resolved(&a)).await;
    let seen = receiver.wait_for(2).await;
    let msg = seen[1].json();
    assert!(msg["text"].as_str().unwrap().contains("Resolved"));
    assert!(msg.to_string().contains("*Duration*"), "{msg}");
    f.stop().await;
}
