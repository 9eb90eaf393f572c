//! `net` over plain HTTP against real servers on loopback: phases, reuse,
//! deadlines in every phase, body caps and decoding. Timings are asserted
//! by order and lower bounds only.
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use probe::net::{HttpCall, Net, NetConfig, PhaseTimings};
use scenarios::model::HttpVersion;
use scenarios::wire::ErrorKind;
use sonde_tests::{Reply, TestTarget, free_port_refused, hang_after_accept};
use tokio::time::Instant;

use crate::net_kit::{self, net_with};

const MIB: u64 = 1024 * 1024;

/// The tests use IP literals only: the resolver is never asked.
fn net() -> Arc<Net> {
    let config = NetConfig {
        resolver: Some("127.0.0.1:9".parse().expect("addr")),
        user_agent: "sonde-probe/test".into(),
        ..NetConfig::default()
    };
    net_with(config)
}

fn call(url: &str) -> HttpCall {
    net_kit::get(url, false, 10 * MIB)
}

fn within(d: Duration) -> Instant {
    Instant::now() + d
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("compresses");
    encoder.finish().expect("finishes")
}

fn assert_sum_is_elapsed(phases: &PhaseTimings, elapsed: Duration) {
    let sum = phases.total();
    assert!(sum <= elapsed, "phases {sum:?} exceed elapsed {elapsed:?}");
    assert!(
        elapsed - sum < Duration::from_millis(50),
        "unmeasured gap: {phases:?} vs {elapsed:?}"
    );
}

#[tokio::test]
async fn phases_are_ordered_add_up_and_reuse_skips_connect() {
    let target = TestTarget::new()
        .route_with_latency("/slow", 200, Duration::from_millis(50))
        .route("/", 200, "home")
        .start()
        .await
        .expect("target starts");
    let net = net();
    let mut session = net.session();

    let started = Instant::now();
    let first = session
        .send(call(&target.url("/slow")), within(Duration::from_secs(5)))
        .await
        .expect("first");
    let elapsed = started.elapsed();
    assert_eq!((first.status, first.version), (200, "HTTP/1.1"));
    assert_eq!(first.body, "ok");
    assert_eq!(first.remote, target.addr());
    let p = first.phases;
    assert_eq!(p.dns, None, "an IP literal has no DNS phase");
    assert!(
        p.connect.is_some() && p.ttfb.is_some() && p.transfer.is_some(),
        "{p:?}"
    );
    assert_eq!(p.tls, None, "plain HTTP has no TLS phase");
    assert!(p.ttfb >= Some(Duration::from_millis(50)), "{p:?}");
    assert_sum_is_elapsed(&p, elapsed);

    let started = Instant::now();
    let second = session
        .send(call(&target.url("/")), within(Duration::from_secs(5)))
        .await
        .expect("second");
    let elapsed = started.elapsed();
    assert_eq!(second.body, "home");
    assert_eq!(
        (second.phases.dns, second.phases.connect, second.phases.tls),
        (None, None, None)
    );
    assert!(second.phases.ttfb.is_some());
    assert_sum_is_elapsed(&second.phases, elapsed);

    let fresh = net
        .session()
        .send(call(&target.url("/")), within(Duration::from_secs(5)))
        .await
        .expect("fresh");
    assert!(
        fresh.phases.connect.is_some(),
        "a new session opens its own connection"
    );
}

#[tokio::test]
async fn request_carries_method_headers_body_and_user_agent() {
    let target = TestTarget::new()
        .route("/echo", 201, "made")
        .start()
        .await
        .expect("target starts");
    let mut post = call(&format!("{}?a=1", target.url("/echo")));
    post.method = "POST";
    post.headers = vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-Sonde-Region".into(), "eu".into()),
    ];
    post.body = Bytes::from_static(b"{\"x\":1}");
    let response = net()
        .session()
        .send(post, within(Duration::from_secs(5)))
        .await
        .expect("post");
    assert_eq!(response.status, 201);
    assert!(
        response
            .headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "text/plain")
    );
    let seen = target.requests_to("/echo");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].query.as_deref(), Some("a=1"));
    assert_eq!(seen[0].body, "{\"x\":1}");
    assert_eq!(seen[0].header("user-agent"), Some("sonde-probe/test"));
    assert_eq!(seen[0].header("x-sonde-region"), Some("eu"));
    assert_eq!(
        seen[0].header("host"),
        Some(target.addr().to_string().as_str())
    );
}

#[tokio::test]
async fn forced_http2_over_plain_http_uses_prior_knowledge() {
    let target = TestTarget::new()
        .route("/", 200, "h2c")
        .start()
        .await
        .expect("target starts");
    let mut h2c = call(&target.url("/"));
    h2c.version = Some(HttpVersion::Http2);
    let response = net()
        .session()
        .send(h2c, within(Duration::from_secs(5)))
        .await
        .expect("h2c");
    assert_eq!(
        (response.version, response.body.as_ref()),
        ("HTTP/2", b"h2c".as_slice())
    );
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let port = free_port_refused().expect("free port");
    let started = Instant::now();
    let failure = net()
        .session()
        .send(
            call(&format!("http://127.0.0.1:{port}/")),
            within(Duration::from_secs(5)),
        )
        .await
        .expect_err("nothing listens");
    assert_eq!(failure.kind, ErrorKind::Connect, "{failure}");
    assert!(
        failure.message.contains(&format!("127.0.0.1:{port}")),
        "{failure}"
    );
    assert!(failure.phases.connect.is_some());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn silent_server_times_out_waiting_for_headers() {
    let hanging = hang_after_accept().await.expect("listener");
    let started = std::time::Instant::now();
    let failure = net()
        .session()
        .send(call(&hanging.url("/")), within(Duration::from_secs(1)))
        .await
        .expect_err("no answer");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the deadline cut the hang"
    );
    assert_eq!(failure.kind, ErrorKind::Timeout);
    assert_eq!(
        failure.message,
        "timed out after 1.0s waiting for response headers"
    );
    assert!(failure.phases.connect.is_some());
    assert!(
        failure.phases.ttfb >= Some(Duration::from_millis(900)),
        "{:?}",
        failure.phases
    );
    assert_eq!(failure.phases.transfer, None);

    let target = TestTarget::new()
        .hang("/hang")
        .start()
        .await
        .expect("target starts");
    let failure = net()
        .session()
        .send(
            call(&target.url("/hang")),
            within(Duration::from_millis(300)),
        )
        .await
        .expect_err("route hangs");
    assert_eq!(failure.kind, ErrorKind::Timeout);
    assert!(
        failure.message.contains("waiting for response headers"),
        "{failure}"
    );
}

#[tokio::test]
async fn trickling_body_times_out_at_the_deadline() {
    let target = TestTarget::new()
        .trickle("/trickle")
        .start()
        .await
        .expect("target starts");
    let started = std::time::Instant::now();
    let failure = net()
        .session()
        .send(
            call(&target.url("/trickle")),
            within(Duration::from_millis(1500)),
        )
        .await
        .expect_err("a byte a second never finishes");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(failure.kind, ErrorKind::Timeout);
    assert_eq!(
        failure.message,
        "timed out after 1.5s reading the response body"
    );
    assert!(
        failure.phases.ttfb.is_some() && failure.phases.transfer.is_some(),
        "{:?}",
        failure.phases
    );
}

#[tokio::test]
async fn huge_bodies_are_refused() {
    let target = TestTarget::new()
        .big_body("/big", 64 * MIB)
        .trickle_with("/drip", 64, Duration::from_millis(1))
        .start()
        .await
        .expect("target starts");
    let failure = net()
        .session()
        .send(call(&target.url("/big")), within(Duration::from_secs(10)))
        .await
        .expect_err("64 MiB is over the cap");
    assert_eq!(failure.kind, ErrorKind::BodyTooLarge);
    assert_eq!(failure.message, "response body exceeds 10485760 bytes");

    // HEAD gets the length but no body: nothing is too large.
    let mut head = call(&target.url("/big"));
    head.method = "HEAD";
    let response = net()
        .session()
        .send(head, within(Duration::from_secs(10)))
        .await
        .expect("HEAD");
    assert!(response.body.is_empty());
    assert!(
        response
            .headers
            .iter()
            .any(|(n, v)| n == "content-length" && v == "67108864")
    );

    // Without Content-Length the cap is found while reading.
    let mut small_cap = call(&target.url("/drip"));
    small_cap.max_body_bytes = 16;
    let failure = net()
        .session()
        .send(small_cap, within(Duration::from_secs(10)))
        .await
        .expect_err("over 16 B");
    assert_eq!(failure.kind, ErrorKind::BodyTooLarge);
    assert_eq!(failure.message, "response body exceeds 16 bytes");
}

#[tokio::test]
async fn gzip_is_decoded_when_asked_and_a_bomb_is_caught() {
    let bomb = gzip(&vec![0u8; 24 * MIB as usize]);
    let target = TestTarget::new()
        .gzip("/hello", "hello, gzip")
        .reply(
            "/bomb",
            Reply::new(200)
                .header("content-encoding", "gzip")
                .body(bomb.clone()),
        )
        .start()
        .await
        .expect("target starts");
    let accept = |url: String| {
        let mut c = call(&url);
        c.headers
            .push(("Accept-Encoding".into(), "gzip, deflate".into()));
        c
    };
    let net = net();
    let hello = net
        .session()
        .send(accept(target.url("/hello")), within(Duration::from_secs(5)))
        .await
        .expect("hello");
    assert_eq!(hello.body, "hello, gzip");
    assert!(
        hello
            .headers
            .iter()
            .any(|(n, v)| n == "content-encoding" && v == "gzip")
    );

    let failure = net
        .session()
        .send(accept(target.url("/bomb")), within(Duration::from_secs(10)))
        .await
        .expect_err("24 MiB decompressed is over the cap");
    assert_eq!(failure.kind, ErrorKind::BodyTooLarge);
    assert!(
        (bomb.len() as u64) < 10 * MIB,
        "the bomb is small on the wire"
    );

    // Not asked for: the compressed bytes are the body, and they fit.
    let raw = net
        .session()
        .send(call(&target.url("/bomb")), within(Duration::from_secs(10)))
        .await
        .expect("raw");
    assert_eq!(raw.body.len(), bomb.len());
}

#[tokio::test]
async fn tcp_check_connects_or_says_why() {
    let target = TestTarget::new().start().await.expect("target starts");
    let net = net();
    let phases = net
        .tcp_check(&target.addr().to_string(), within(Duration::from_secs(5)))
        .await
        .expect("tcp");
    assert!(phases.connect.is_some());
    assert_eq!((phases.dns, phases.tls, phases.ttfb), (None, None, None));

    let port = free_port_refused().expect("free port");
    let refused = net
        .tcp_check(&format!("127.0.0.1:{port}"), within(Duration::from_secs(5)))
        .await;
    assert_eq!(refused.expect_err("refused").kind, ErrorKind::Connect);
    let malformed = net
        .tcp_check("127.0.0.1", within(Duration::from_secs(5)))
        .await;
    assert_eq!(
        malformed.expect_err("no port").kind,
        ErrorKind::InvalidRequest
    );
}
