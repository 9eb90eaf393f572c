//! `[[notify]]` entries in `scheduler.toml`: each kind's own keys, checked
//! before the scheduler starts, one diagnostic each.

use std::path::Path;
use std::time::Duration;

use scenarios::diagnostic::Style;
use scheduler::Config;
use scheduler::config::NotifierKind;

const MINIMAL: &str = "data_dir = \"./data\"\nscenarios_dir = \".\"\n";

fn parse(notify: &str) -> Result<Config, String> {
    let text = format!("{MINIMAL}{notify}");
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    Config::parse("scheduler.toml", &text, base, &|_| None).map_err(|e| e.render(Style::Plain))
}

#[test]
fn each_kind_with_its_keys() {
    let c = parse(
        r#"
[[notify]]
kind = "alertmanager"
url = "http://127.0.0.1:9093"
resend_interval = "30s"
match = { severity = "critical" }

[[notify]]
kind = "pagerduty"
routing_key = "R0UT1NGKEY"

[[notify]]
kind = "slack"
url = "https://hooks.slack.example/services/T/B/X"

[[notify]]
kind = "webhook"
url = "https://hooks.example.com/sonde"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"#,
    )
    .unwrap();
    let kinds: Vec<_> = c.notify.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        [
            NotifierKind::Alertmanager,
            NotifierKind::Pagerduty,
            NotifierKind::Slack,
            NotifierKind::Webhook
        ]
    );
    assert_eq!(c.notify[0].resend_interval, Some(Duration::from_secs(30)));
    assert_eq!(c.notify[1].routing_key.as_deref(), Some("R0UT1NGKEY"));
    assert!(c.notify[1].url.is_none(), "PagerDuty's URL has a default");
    let targets = scheduler::alert::notify::targets(&c.notify, &Default::default()).unwrap();
    assert_eq!(targets.len(), 4);
    assert!(targets[0].key.starts_with("alertmanager-"));
}

#[test]
fn wrong_keys_are_diagnosed() {
    let cases = [
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"https://h.example/x\"\n",
            "a `webhook` notifier needs `secret`",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"https://h.example/x\"\nsecret = \"s3cret\"\n",
            "invalid webhook secret: a webhook secret starts with `whsec_`",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"https://h.example/x\"\nsecret = \"whsec_!!\"\n",
            "not valid base64",
        ),
        ("[[notify]]\nkind = \"pagerduty\"\n", "needs `routing_key`"),
        (
            "[[notify]]\nkind = \"slack\"\nurl = \"https://h.example/x\"\nsecret = \"whsec_abcd\"\n",
            "`secret` is for webhooks, not `slack`",
        ),
        (
            "[[notify]]\nkind = \"slack\"\nurl = \"https://h.example/x\"\nrouting_key = \"k\"\n",
            "`routing_key` is for PagerDuty, not `slack`",
        ),
        (
            "[[notify]]\nkind = \"webhook\"\nurl = \"https://h.example/x\"\nsecret = \"whsec_abcd\"\nresend_interval = \"1m\"\n",
            "`resend_interval` is for Alertmanager",
        ),
        (
            "[[notify]]\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:9093\"\nresend_interval = \"soon\"\n",
            "invalid duration `soon` for `resend_interval`",
        ),
        (
            "[[notify]]\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:9093\"\nresend_interval = \"100ms\"\n",
            "`resend_interval` is too short",
        ),
    ];
    for (text, want) in cases {
        let err = parse(text).unwrap_err();
        assert!(err.contains(want), "{text}\nwanted {want:?} in:\n{err}");
    }
}

#[test]
fn a_notifier_keeps_its_queue_when_entries_are_reordered() {
    let a = "[[notify]]\nkind = \"slack\"\nurl = \"https://h.example/a\"\n";
    let b = "[[notify]]\nkind = \"slack\"\nurl = \"https://h.example/b\"\n";
    let one = parse(&format!("{a}{b}")).unwrap();
    let two = parse(&format!("{b}{a}")).unwrap();
    let key = scheduler::alert::notify::key;
    assert_eq!(key(&one.notify[0]), key(&two.notify[1]));
    assert_ne!(key(&one.notify[0]), key(&one.notify[1]));
}

#[test]
fn a_heartbeat_takes_a_url_and_an_interval_with_a_default() {
    let c = parse(
        r#"
[[notify]]
name = "deadman"
kind = "heartbeat"
url = "https://hc-ping.example.com/0b5f3c2e"
interval = "30s"

[[notify]]
kind = "heartbeat"
url = "https://cronitor.example.com/p/abc"
"#,
    )
    .unwrap();
    assert_eq!(c.notify[0].kind, NotifierKind::Heartbeat);
    assert_eq!(c.notify[0].interval, Some(Duration::from_secs(30)));
    assert_eq!(c.notify[1].interval, None, "the default (1m) applies");
    let targets = scheduler::alert::notify::targets(&c.notify, &Default::default()).unwrap();
    assert_eq!(
        targets[1].channel.beat_every(),
        Some(scheduler::config::DEFAULT_HEARTBEAT)
    );
    assert_eq!(
        targets[0].channel.beat_every(),
        Some(Duration::from_secs(30))
    );
    assert!(targets[0].key.starts_with("heartbeat-"));
}

#[test]
fn heartbeat_mistakes_are_diagnosed() {
    let cases = [
        (
            "[[notify]]\nkind = \"heartbeat\"\ninterval = \"1m\"\n",
            "a `heartbeat` notifier needs `url`",
        ),
        (
            "[[notify]]\nkind = \"heartbeat\"\nurl = \"https://h.example/p\"\ninterval = \"often\"\n",
            "invalid duration `often` for `interval`",
        ),
        (
            "[[notify]]\nkind = \"heartbeat\"\nurl = \"https://h.example/p\"\ninterval = \"2s\"\n",
            "`interval` is too short",
        ),
        (
            "[[notify]]\nkind = \"heartbeat\"\nurl = \"https://h.example/p\"\ninterval = \"2s\"\n",
            "expected at least 10s",
        ),
        (
            "[[notify]]\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:9093\"\ninterval = \"1m\"\n",
            "`interval` is for heartbeats, not `alertmanager`",
        ),
        (
            "[[notify]]\nkind = \"heartbeat\"\nurl = \"https://h.example/p\"\nresend_interval = \"1m\"\n",
            "`resend_interval` is for Alertmanager, not `heartbeat`",
        ),
        (
            "[[notify]]\nkind = \"heartbeat\"\nurl = \"https://h.example/p\"\nmatch = { team = \"shop\" }\n",
            "gets no alerts, so `match` means nothing",
        ),
        (
            "[[notify]]\nkind = \"pager\"\nurl = \"https://h.example/p\"\n",
            "expected `alertmanager`, `pagerduty`, `slack`, `webhook` or `heartbeat`",
        ),
    ];
    for (text, want) in cases {
        let err = parse(text).unwrap_err();
        assert!(err.contains(want), "{text}\nwanted {want:?} in:\n{err}");
    }
}
