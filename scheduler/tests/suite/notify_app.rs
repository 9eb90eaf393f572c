//! The scheduler starts its notifiers from `[[notify]]`, delivers what the
//! engine writes to `alert_events`, and shows the attempts in `/metrics`.

use std::sync::Arc;

use scheduler::config::{NotifierKind, WebhookSecret};
use scheduler::{App, Config, SystemClock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::notify_support::{Receiver, alert, entry, eventually, firing};

#[tokio::test]
async fn the_app_delivers_alert_events_and_counts_them() {
    let receiver = Receiver::start(&[503]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("scenarios")).unwrap();
    let mut config = Config::with_dirs(dir.path().join("data"), dir.path().join("scenarios"));
    config.database_url = crate::store_kit::database_from_env("the_app_delivers_alert_events");
    let mut hook = entry(NotifierKind::Webhook, &receiver.url("/hook"));
    hook.secret = Some(WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap());
    config.notify = vec![hook];
    let shutdown = CancellationToken::new();
    let app = App::open(config, Arc::new(SystemClock), shutdown.clone())
        .await
        .unwrap();
    let tasks = TaskTracker::new();
    app.spawn_background(&tasks).unwrap();
    let scrape = app.scrape().encode();
    assert!(
        scrape.contains("sonde_notification_queue{notifier=\"webhook\"} 0"),
        "{scrape}"
    );

    let event = firing(&alert("eu-west-1"));
    let now = chrono::Utc::now().timestamp_millis();
    app.store
        .write(move |tx| tx.insert_event(&event, now))
        .await
        .unwrap();
    app.notifications.wake();
    // The first answer is a 503: retried after a back-off of about 1s.
    receiver.wait_for(2).await;
    eventually("the attempts counted", || async {
        let scrape = app.scrape().encode();
        scrape.contains("sonde_notifications_total{notifier=\"webhook\",outcome=\"sent\"} 1")
            && scrape
                .contains("sonde_notifications_total{notifier=\"webhook\",outcome=\"retry\"} 1")
    })
    .await;
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    app.store.close().await;
}
