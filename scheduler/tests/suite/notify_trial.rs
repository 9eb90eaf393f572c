//! `scheduler notify test` and `POST /api/v1/notify/test`: a test alert
//! reaches a real Alertmanager and a signed webhook; a receiver that
//! answers 500 makes the command exit 1 naming it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use sonde_tests::{Spawn, free_port, wait_for_http};

use crate::notify_alertmanager::{active, start_alertmanager};
use crate::notify_support::Receiver;

pub const BIN: &str = env!("CARGO_BIN_EXE_scheduler");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A scheduler.toml with the given `[[notify]]` entries.
pub fn config(dir: &Path, port: u16, notify: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::write(dir.join("scenarios/checkout.toml"), crate::common::CHECKOUT).unwrap();
    let path = dir.join("scheduler.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\nscenarios_dir = \"scenarios\"\n{notify}"
        ),
    )
    .unwrap();
    path
}

fn webhook(name: &str, url: &str) -> String {
    format!(
        "[[notify]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"{url}\"\nsecret = \"{SECRET}\"\n"
    )
}

/// Runs the binary off the runtime, so the receivers keep answering.
pub async fn cli(config: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).arg("--config").arg(config);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_reaches_alertmanager_and_a_webhook_and_names_the_receiver_that_fails() {
    let am = start_alertmanager().await;
    let hook = Receiver::start(&[]).await;
    let broken = Receiver::start(&[500, 500, 500]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut notify = String::new();
    if let Some(am) = &am {
        notify.push_str(&format!(
            "[[notify]]\nname = \"am\"\nkind = \"alertmanager\"\nurl = \"{}\"\n",
            am.url
        ));
    }
    notify.push_str(&webhook("oncall", &hook.url("/hook/s3cr3t-path")));
    notify.push_str(&webhook("broken", &broken.url("/hook")));
    let path = config(dir.path(), free_port().unwrap(), &notify);

    let out = cli(&path, &["notify", "test"]).await;
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("oncall (webhook, http://{}): accepted", hook.addr)),
        "{stdout}"
    );
    assert!(
        stdout.contains("broken (webhook, ") && stdout.contains("failed: HTTP 500"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("s3cr3t-path"),
        "a URL's path is never shown: {stdout}"
    );
    assert!(
        stderr.contains("did not accept the test alert: broken"),
        "{stderr}"
    );

    // The webhook got a signed test alert that says it is one.
    let seen = hook.wait_for(1).await;
    let body = seen[0].json();
    assert_eq!(body["status"], "firing");
    assert_eq!(body["alert"]["scope"], "test");
    assert!(
        body["alert"]["summary"].as_str().unwrap().contains("TEST"),
        "{body}"
    );
    assert!(seen[0].header("webhook-id").starts_with("msg_test_"));
    assert!(seen[0].header("webhook-signature").starts_with("v1,"));

    if let Some(am) = &am {
        assert!(stdout.contains("am (alertmanager, "), "{stdout}");
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("am ") && l.ends_with(": accepted")),
            "{stdout}"
        );
        let alerts = active(am, "SondeTest").await;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0]["labels"]["scope"], "test");
    }

    // One notifier by name: only it is tried, and all is well.
    let before = broken.seen().len();
    let out = cli(&path, &["notify", "test", "--notifier", "oncall"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1);
    assert_eq!(broken.seen().len(), before);

    // A name that is not configured is invalid input, and the known ones are listed.
    let out = cli(&path, &["notify", "test", "--notifier", "pager"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no notifier is named `pager`") && stderr.contains("oncall, broken"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_sends_a_test_with_an_operator_token_and_answers_502_when_a_receiver_fails() {
    let hook = Receiver::start(&[]).await;
    let broken = Receiver::start(&[503, 503, 503]).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().unwrap();
    let notify = format!(
        "{}{}",
        webhook("oncall", &hook.url("/")),
        webhook("broken", &broken.url("/"))
    );
    let path = config(dir.path(), port, &notify);
    let token = cli(&path, &["token", "create", "--operator", "--name", "alice"]).await;
    assert!(token.status.success(), "{}", text(&token.stderr));
    let token = text(&token.stdout).trim().to_owned();
    let _scheduler = Spawn::new(BIN)
        .name("scheduler")
        .arg("--config")
        .arg(&path)
        .start()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_for_http(&format!("{base}/readyz"), Duration::from_secs(20))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/notify/test");

    let anonymous = client.post(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(hook.seen().is_empty(), "nothing is sent without a token");

    let all = client.post(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(all.status(), 502);
    let body: Value = all.json().await.unwrap();
    assert_eq!(body["accepted"], false);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{body}");
    assert_eq!(results[0]["notifier"], "oncall");
    assert_eq!(results[0]["accepted"], true);
    assert_eq!(results[1]["notifier"], "broken");
    assert!(
        results[1]["error"].as_str().unwrap().contains("HTTP 503"),
        "{body}"
    );
    assert_eq!(hook.wait_for(1).await[0].json()["alert"]["scope"], "test");

    let one = client
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({"notifier": "oncall"}))
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 200);
    let body: Value = one.json().await.unwrap();
    assert_eq!(body["accepted"], true);
    assert_eq!(body["results"].as_array().unwrap().len(), 1);

    let unknown = client
        .post(&url)
        .bearer_auth(&token)
        .json(&serde_json::json!({"notifier": "pager"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}
