//! Delivery against a fake scheduler on loopback: acks delete, 429 waits
//! Retry-After, 5xx backs off and retries, 400 and rejected results are
//! quarantined, 413 halves the batch, 401 keeps everything, and the
//! shutdown flush makes one pass without back-off.

use std::sync::Arc;
use std::time::Duration;

use probe::agent::{
    Attempt, Backoff, Deliverer, DeliveryOptions, Identity, Metrics, SchedulerClient, Schedulers,
    Spool,
};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::agent_support::{FakeScheduler, Reply, files_in, result, sample};

struct Setup {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    spool: Arc<Spool>,
    metrics: Metrics,
    deliverer: Option<Deliverer>,
    ids: Vec<uuid::Uuid>,
}

fn identity() -> Identity {
    Identity {
        name: "p-test".into(),
        region: "eu-test-1".into(),
        token: "s3cret-token".into(),
    }
}

fn setup(scheduler: &url::Url, results: usize, batch_max: usize) -> Setup {
    setup_bytes(scheduler, results, batch_max, 1 << 20)
}

fn setup_bytes(
    scheduler: &url::Url,
    results: usize,
    batch_max: usize,
    batch_bytes: usize,
) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics = Metrics::new();
    let spool = Arc::new(Spool::open(dir.path(), 1 << 20, metrics.clone()).expect("spool"));
    let ids = (0..results)
        .map(|_| {
            let r = result("checkout");
            spool.put(&r).expect("put");
            r.id
        })
        .collect();
    let client = SchedulerClient::new(scheduler, &identity(), None).expect("client");
    let options = DeliveryOptions {
        batch_max,
        batch_bytes,
        linger: Duration::ZERO,
        max_retry_after: Duration::from_secs(300),
        backoff: Backoff::new(Duration::from_millis(20), Duration::from_millis(200)),
    };
    let schedulers = Schedulers::new(vec![client], metrics.clone());
    let deliverer = Deliverer::new(schedulers, spool.clone(), metrics.clone(), options);
    Setup {
        root: dir.path().to_path_buf(),
        _dir: dir,
        spool,
        metrics,
        deliverer: Some(deliverer),
        ids,
    }
}

impl Setup {
    fn deliverer(&mut self) -> &mut Deliverer {
        self.deliverer.as_mut().expect("deliverer")
    }

    /// Runs the delivery loop until the spool is empty (true) or 20 s pass.
    async fn deliver_all(&mut self) -> bool {
        let deliverer = self.deliverer.take().expect("deliverer");
        let stop = CancellationToken::new();
        let task = tokio::spawn(deliverer.run(Arc::new(Notify::new()), stop.clone()));
        let spool = self.spool.clone();
        let emptied = eventually(Duration::from_secs(20), || spool.is_empty()).await;
        stop.cancel();
        self.deliverer = Some(task.await.expect("delivery loop"));
        emptied
    }
}

/// Checks `condition` every few milliseconds until it holds or `within` passes.
async fn eventually(within: Duration, condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !condition() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

#[tokio::test]
async fn acknowledged_results_leave_the_spool_and_requests_carry_the_identity() {
    let fake = FakeScheduler::start().await;
    let mut s = setup(&fake.url(), 3, 500);
    assert!(s.deliver_all().await, "everything delivered");
    assert!(s.spool.is_empty());
    assert_eq!(fake.stored().keys().copied().collect::<Vec<_>>(), s.ids);
    assert_eq!(
        sample(&s.metrics.encode(), "sonde_agent_delivered_total", ""),
        Some(3.0)
    );
    let post = &fake.posts()[0];
    let header = |n: &str| {
        post.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("authorization"), "Bearer s3cret-token");
    assert_eq!(header("x-sonde-probe"), "p-test");
    assert_eq!(header("x-sonde-region"), "eu-test-1");
    assert!(
        header("user-agent").starts_with("sonde-probe/"),
        "{}",
        header("user-agent")
    );
}

#[tokio::test]
async fn batches_hold_at_most_the_batch_size_oldest_first() {
    let fake = FakeScheduler::start().await;
    let mut s = setup(&fake.url(), 5, 2);
    assert!(s.deliver_all().await);
    let sent: Vec<_> = fake.posts().iter().map(|p| p.ids.clone()).collect();
    assert_eq!(
        sent,
        vec![
            s.ids[0..2].to_vec(),
            s.ids[2..4].to_vec(),
            s.ids[4..].to_vec()
        ]
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let fake = FakeScheduler::start().await;
    fake.script([Reply::RateLimited(1), Reply::RateLimited(1)]);
    let mut s = setup(&fake.url(), 2, 500);
    assert_eq!(
        s.deliverer().attempt().await,
        Attempt::Wait(Duration::from_secs(1))
    );
    assert_eq!(s.spool.len(), 2, "nothing leaves the spool");
    assert!(s.deliver_all().await);
    let posts = fake.posts();
    assert_eq!(
        posts.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![429, 429, 200]
    );
    assert!(
        posts[2].at - posts[1].at >= Duration::from_secs(1),
        "the retry waited Retry-After"
    );
    let scrape = s.metrics.encode();
    assert_eq!(
        sample(
            &scrape,
            "sonde_agent_delivery_failures_total",
            "reason=\"rate_limited\""
        ),
        Some(2.0)
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_back_off() {
    let fake = FakeScheduler::start().await;
    fake.script([Reply::Status(500), Reply::Status(503)]);
    let mut s = setup(&fake.url(), 2, 500);
    assert!(s.deliver_all().await, "delivered after the errors");
    let posts = fake.posts();
    assert_eq!(
        posts.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![500, 503, 200]
    );
    // Equal jitter: at least half of 20 ms, then of 40 ms.
    assert!(posts[1].at - posts[0].at >= Duration::from_millis(10));
    assert!(posts[2].at - posts[1].at >= Duration::from_millis(20));
    assert_eq!(fake.stored().len(), 2);
    let scrape = s.metrics.encode();
    assert_eq!(
        sample(
            &scrape,
            "sonde_agent_delivery_failures_total",
            "reason=\"server_error\""
        ),
        Some(2.0)
    );
}

#[tokio::test]
async fn an_unreachable_scheduler_keeps_every_result() {
    let port = sonde_tests::free_port_refused().expect("port");
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}")).expect("url");
    let mut s = setup(&url, 2, 500);
    assert!(matches!(s.deliverer().attempt().await, Attempt::Wait(_)));
    assert_eq!(s.spool.len(), 2);
    let scrape = s.metrics.encode();
    assert_eq!(
        sample(
            &scrape,
            "sonde_agent_delivery_failures_total",
            "reason=\"unreachable\""
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_400_quarantines_the_batch_instead_of_retrying_forever() {
    let fake = FakeScheduler::start().await;
    fake.script([Reply::Status(400)]);
    let mut s = setup(&fake.url(), 3, 500);
    assert_eq!(s.deliverer().attempt().await, Attempt::Progress);
    assert!(s.spool.is_empty());
    assert_eq!(files_in(&s.root.join("quarantine")), 3);
    assert!(fake.stored().is_empty());
    let scrape = s.metrics.encode();
    assert_eq!(
        sample(
            &scrape,
            "sonde_agent_dropped_total",
            "reason=\"quarantined\""
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &scrape,
            "sonde_agent_delivery_failures_total",
            "reason=\"rejected\""
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn rejected_results_are_quarantined_and_the_rest_delivered() {
    let fake = FakeScheduler::start().await;
    let mut s = setup(&fake.url(), 3, 500);
    fake.script([Reply::Reject(vec![s.ids[1]])]);
    assert_eq!(s.deliverer().attempt().await, Attempt::Progress);
    assert!(s.spool.is_empty());
    assert_eq!(
        fake.stored().keys().copied().collect::<Vec<_>>(),
        vec![s.ids[0], s.ids[2]]
    );
    assert!(
        s.root
            .join("quarantine")
            .join(format!("{}.json", s.ids[1]))
            .is_file()
    );
    let scrape = s.metrics.encode();
    assert_eq!(
        sample(&scrape, "sonde_agent_delivered_total", ""),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &scrape,
            "sonde_agent_dropped_total",
            "reason=\"quarantined\""
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_413_halves_the_batch() {
    let fake = FakeScheduler::start().await;
    fake.script([Reply::Status(413)]);
    let mut s = setup(&fake.url(), 4, 500);
    assert!(s.deliver_all().await);
    let sizes: Vec<usize> = fake.posts().iter().map(|p| p.ids.len()).collect();
    assert_eq!(sizes, vec![4, 2, 2]);
    assert_eq!(fake.stored().len(), 4, "nothing dropped");
}

#[tokio::test]
async fn batches_stay_under_the_byte_limit_however_many_results_wait() {
    let fake = FakeScheduler::start().await;
    let one = serde_json::to_vec(&result("checkout")).expect("json").len();
    // Room for about three results per request.
    let limit = one * 3 + 64;
    let mut s = setup_bytes(&fake.url(), 20, 500, limit);
    assert!(s.deliver_all().await);
    let posts = fake.posts();
    assert!(
        posts.iter().all(|p| p.bytes <= limit && !p.ids.is_empty()),
        "sizes: {:?}",
        posts
            .iter()
            .map(|p| (p.ids.len(), p.bytes))
            .collect::<Vec<_>>()
    );
    assert!(posts.iter().any(|p| p.ids.len() >= 2), "still batches");
    assert_eq!(fake.stored().len(), 20, "nothing dropped");
}

#[tokio::test]
async fn refused_credentials_keep_every_result_for_a_retry() {
    let fake = FakeScheduler::start().await;
    fake.script([Reply::Status(401), Reply::Status(403)]);
    let mut s = setup(&fake.url(), 2, 500);
    assert!(matches!(s.deliverer().attempt().await, Attempt::Wait(_)));
    assert_eq!(s.spool.len(), 2);
    assert!(s.deliver_all().await, "delivered once the token works");
    assert_eq!(fake.stored().len(), 2);
}

#[tokio::test]
async fn the_shutdown_flush_gives_up_at_the_first_failure_and_keeps_the_rest() {
    let fake = FakeScheduler::start().await;
    fake.script([Reply::Status(503)]);
    let mut s = setup(&fake.url(), 3, 2);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    assert!(
        !s.deliverer().flush(deadline).await,
        "not everything delivered"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no back-off at shutdown"
    );
    assert_eq!(s.spool.len(), 3, "kept for the next start");
    assert!(
        s.deliverer().flush(deadline).await,
        "a working scheduler takes it all"
    );
    assert_eq!(fake.stored().len(), 3);
}
