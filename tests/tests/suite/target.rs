//! The fake target's routes behave as documented, hostile ones included.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::json;
use sonde_tests::{
    ClientError, Reply, TestClient, TestTarget, free_port_refused, hang_after_accept,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

#[tokio::test]
async fn normal_routes_answer_and_requests_are_recorded() {
    let target = TestTarget::new()
        .route("/ok", 200, "fine")
        .json("/api/x", 201, json!({"id": 7}))
        .reply(
            "/teapot",
            Reply::new(418)
                .header("x-kind", "teapot")
                .body("short and stout"),
        )
        .route_with_latency("/slow", 200, Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let client = TestClient::new();

    let ok = client
        .request(
            hyper::Method::GET,
            &target.url("/ok?q=1"),
            &[
                (
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                ),
                ("X-Sonde-Region", "eu-west-1"),
            ],
            None,
        )
        .await
        .unwrap();
    assert_eq!((ok.status.as_u16(), ok.text().as_str()), (200, "fine"));
    let json = client.get(&target.url("/api/x")).await.unwrap();
    assert_eq!(json.status.as_u16(), 201);
    assert_eq!(json.json().unwrap()["id"], 7);
    let teapot = client.get(&target.url("/teapot")).await.unwrap();
    assert_eq!(
        (teapot.status.as_u16(), teapot.header("x-kind")),
        (418, Some("teapot"))
    );
    assert_eq!(
        client
            .get(&target.url("/missing"))
            .await
            .unwrap()
            .status
            .as_u16(),
        404
    );

    let started = Instant::now();
    assert_eq!(
        client
            .get(&target.url("/slow"))
            .await
            .unwrap()
            .status
            .as_u16(),
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(50));

    let seen = target.requests_to("/ok");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].query.as_deref(), Some("q=1"));
    assert_eq!(seen[0].header("x-sonde-region"), Some("eu-west-1"));
    assert!(
        seen[0]
            .header("traceparent")
            .unwrap()
            .starts_with("00-4bf92f")
    );
    assert_eq!(target.requests().len(), 5);
}

#[tokio::test]
async fn post_bodies_are_recorded_and_waiting_for_requests_returns_them() {
    let target = TestTarget::new()
        .route("/hook", 204, "")
        .start()
        .await
        .unwrap();
    let url = target.url("/hook");
    tokio::spawn(async move {
        TestClient::new()
            .post_json(&url, &[], &json!({"a": 1}))
            .await
            .unwrap();
    });
    let seen = target
        .wait_for_requests("/hook", 1, Duration::from_secs(3))
        .await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, hyper::Method::POST);
    assert_eq!(seen[0].body.as_ref(), br#"{"a":1}"#);
}

#[tokio::test]
async fn hang_reads_the_request_and_never_answers() {
    let target = TestTarget::new().hang("/hang").start().await.unwrap();
    let client = TestClient::new().timeout(Duration::from_secs(2));
    let started = Instant::now();
    let error = client.get(&target.url("/hang")).await.unwrap_err();
    assert!(matches!(error, ClientError::Timeout(_)), "{error}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(target.requests_to("/hang").len(), 1, "the request was read");
}

#[tokio::test]
async fn trickle_sends_headers_then_about_a_byte_a_second() {
    let target = TestTarget::new().trickle("/trickle").start().await.unwrap();
    let stream = TcpStream::connect(target.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = Request::get("/trickle")
        .header("host", "t")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(2), sender.send_request(request))
        .await
        .expect("headers come at once")
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.into_body();
    let mut received = 0;
    let window = tokio::time::sleep(Duration::from_millis(2500));
    tokio::pin!(window);
    loop {
        tokio::select! {
            () = &mut window => break,
            frame = body.frame() => match frame {
                Some(Ok(frame)) => received += frame.data_ref().map_or(0, Bytes::len),
                _ => panic!("the trickle ended early"),
            },
        }
    }
    assert!((1..=4).contains(&received), "{received} bytes in 2.5 s");
}

#[tokio::test]
async fn big_body_streams_with_content_length() {
    let len = 64 * 1024 * 1024;
    let target = TestTarget::new()
        .big_body("/big", len)
        .start()
        .await
        .unwrap();
    let stream = TcpStream::connect(target.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = Request::get("/big")
        .header("host", "t")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(
        response.headers()["content-length"],
        len.to_string().as_str()
    );
    let mut body = response.into_body();
    let mut received = 0;
    while received < 4 * 1024 * 1024 {
        let frame = body.frame().await.unwrap().unwrap();
        received += frame.data_ref().map_or(0, Bytes::len);
    }
    // Dropping the body mid-way closes the connection; the server must not care.
}

#[tokio::test]
async fn redirects_point_on_and_the_loop_comes_back() {
    let target = TestTarget::new()
        .redirect("/a", "/b")
        .route("/b", 200, "landed")
        .redirect_loop("/loop")
        .start()
        .await
        .unwrap();
    let client = TestClient::new();
    let a = client.get(&target.url("/a")).await.unwrap();
    assert_eq!((a.status.as_u16(), a.header("location")), (302, Some("/b")));

    let mut path = "/loop".to_owned();
    let mut visited = vec![path.clone()];
    for _ in 0..4 {
        let hop = client.get(&target.url(&path)).await.unwrap();
        assert_eq!(hop.status.as_u16(), 302);
        path = hop.header("location").unwrap().to_owned();
        visited.push(path.clone());
    }
    assert_eq!(
        visited,
        ["/loop", "/loop/next", "/loop", "/loop/next", "/loop"]
    );
}

#[tokio::test]
async fn gzip_is_served_to_clients_that_accept_it() {
    let target = TestTarget::new()
        .gzip("/gz", "hello hello hello")
        .start()
        .await
        .unwrap();
    let client = TestClient::new();
    let zipped = client
        .request(
            hyper::Method::GET,
            &target.url("/gz"),
            &[("accept-encoding", "gzip")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(zipped.body.as_ref()),
        &mut text,
    )
    .unwrap();
    assert_eq!(text, "hello hello hello");
    let plain = client.get(&target.url("/gz")).await.unwrap();
    assert_eq!(
        (plain.header("content-encoding"), plain.text().as_str()),
        (None, "hello hello hello")
    );
}

#[tokio::test]
async fn https_and_http2_work_on_the_same_port() {
    let target = TestTarget::new()
        .route("/ok", 200, "fine")
        .start()
        .await
        .unwrap();
    let h1 = TestClient::new()
        .get(&target.https_url("/ok"))
        .await
        .unwrap();
    assert_eq!(
        (h1.status.as_u16(), h1.version),
        (200, hyper::Version::HTTP_11)
    );
    let h2 = TestClient::new()
        .http2()
        .get(&target.https_url_for_host("localhost", "/ok"))
        .await
        .unwrap();
    assert_eq!(
        (h2.status.as_u16(), h2.version),
        (200, hyper::Version::HTTP_2)
    );
    let h2c = TestClient::new()
        .http2()
        .get(&target.url("/ok"))
        .await
        .unwrap();
    assert_eq!(h2c.version, hyper::Version::HTTP_2);
    assert_eq!(target.requests()[1].version, hyper::Version::HTTP_2);
}

#[tokio::test]
async fn hanging_listener_accepts_and_stays_silent() {
    let listener = hang_after_accept().await.unwrap();
    let mut stream = TcpStream::connect(listener.addr()).await.unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await;
    assert!(read.is_err(), "nothing is ever sent");
}

#[tokio::test]
async fn refused_port_refuses() {
    let port = free_port_refused().unwrap();
    let error = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn dropping_the_target_stops_it() {
    let target = TestTarget::new()
        .route("/ok", 200, "fine")
        .start()
        .await
        .unwrap();
    let addr = target.addr();
    drop(target);
    let deadline = Instant::now() + Duration::from_secs(2);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after drop");
        tokio::task::yield_now().await;
    }
}
