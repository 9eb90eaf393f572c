//! Alert latency: from the confirming result arriving at the scheduler to
//! each notifier's request reaching its receiver. Goal: p99 ≤ 1 s.
//!
//! The release scheduler binary runs one scenario in three regions with
//! `after = 1` and `confirm = true`, and notifies four receivers (webhook,
//! Alertmanager, PagerDuty, Slack) that all point at a recording server
//! in this process. The bench plays the three probes over HTTP, so every
//! instant is its own: per iteration a failed run turns `bench-a` down,
//! the other two probes fetch their confirmation runs from the plan and
//! answer them; the clock starts just before the last answer is posted
//! (the result that releases the held alert) and stops at each receiver.
//! A good run in `bench-a` then resolves the alert, timed the same way.
//!
//! `cargo bench -p sonde-scheduler --bench alert_latency [-- ITERATIONS]`
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "benches stamp real times and measure real elapsed time; the injected clock is for the code under test"
)]
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

mod support;
use support::BenchScheduler;

const REGIONS: [&str; 3] = ["bench-a", "bench-b", "bench-c"];
const RECEIVERS: [&str; 4] = ["webhook", "alertmanager", "pagerduty", "slack"];
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What a receiver saw: its path and when.
type Seen = (String, Instant, Bytes);

async fn receiver(listener: TcpListener, seen: mpsc::UnboundedSender<Seen>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let seen = seen.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let seen = seen.clone();
                async move {
                    let at = Instant::now();
                    let path = req.uri().path().trim_start_matches('/').to_owned();
                    let body = req.into_body().collect().await.map(|b| b.to_bytes());
                    let _ = seen.send((path, at, body.unwrap_or_default()));
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                        b"{\"status\":\"success\"}",
                    ))))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}

/// One probe's HTTP/1.1 connection to the scheduler.
struct ProbeClient {
    name: String,
    region: String,
    token: String,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl ProbeClient {
    async fn connect(addr: SocketAddr, name: &str, region: &str, token: String) -> ProbeClient {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        ProbeClient {
            name: name.to_owned(),
            region: region.to_owned(),
            token,
            sender,
        }
    }

    async fn send(&mut self, method: &str, path: &str, body: String) -> serde_json::Value {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "bench")
            .header("authorization", format!("Bearer {}", self.token))
            .header("x-sonde-probe", &self.name)
            .header("x-sonde-region", &self.region)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = self.sender.send_request(req).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(
            status.is_success(),
            "{method} {path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)
    }

    /// The confirmation run the plan asks of this probe.
    async fn confirmation(&mut self) -> String {
        let plan = self.send("GET", "/api/v1/plan", String::new()).await;
        plan["run_now"]
            .as_array()
            .and_then(|runs| runs.iter().find(|r| r["reason"] == "confirmation"))
            .and_then(|r| r["id"].as_str())
            .expect("a confirmation run in the plan")
            .to_owned()
    }

    async fn post(&mut self, ok: bool, run_request: Option<&str>) {
        let body = format!("{{\"results\":[{}]}}", result(self, ok, run_request));
        self.send("POST", "/api/v1/results", body).await;
    }
}

/// One 1-step result of `bench` from `probe`, started now.
fn result(probe: &ProbeClient, ok: bool, run_request: Option<&str>) -> String {
    let now = scenarios::wire::time::format(&chrono::Utc::now());
    let (outcome, status, code) = if ok {
        ("success", "passed", 200)
    } else {
        ("failure", "failed", 503)
    };
    let request = run_request.map_or_else(|| "null".to_owned(), |id| format!("\"{id}\""));
    format!(
        r#"{{"id":"{}","scenario":"bench","version":"sha256:00","probe":"{}","region":"{}","scheduled_at":"{now}","started_at":"{now}","duration_ms":12.5,"outcome":"{outcome}","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","run_request":{request},"steps":[{{"name":"home","kind":"http","status":"{status}","duration_ms":12.5,"phases":{{"dns_ms":null,"connect_ms":0.2,"tls_ms":null,"ttfb_ms":11.8,"transfer_ms":0.5}},"http":{{"method":"GET","url":"http://127.0.0.1:9/","status":{code},"version":"HTTP/1.1"}},"tls":null,"dns":null,"assertions":[{{"expr":"status == 200","passed":{ok},"expected":"200","actual":"{code}"}}],"captures":[],"error":null}}]}}"#,
        uuid::Uuid::now_v7(),
        probe.name,
        probe.region,
    )
}

/// Waits for one request on each receiver path; the time each arrived.
/// Only one alert changes at a time and nothing is re-sent within the
/// run (`resend_interval = "1h"`), so the first request is the one.
/// The webhook's body is checked for the status `want`.
async fn arrivals(
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    want: &str,
) -> BTreeMap<String, Instant> {
    let mut got = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < RECEIVERS.len() {
        let (path, at, body) = tokio::time::timeout_at(deadline, seen.recv())
            .await
            .expect("every receiver heard within 30 s")
            .expect("receiver running");
        if path == "webhook" {
            let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(event["status"], want, "{event}");
        }
        got.entry(path).or_insert(at);
    }
    got
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(label: &str, samples: &mut BTreeMap<String, Vec<f64>>) {
    for (receiver, ms) in samples.iter_mut() {
        ms.sort_by(f64::total_cmp);
        println!(
            "| {label} | {receiver} | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            ms.len(),
            percentile(ms, 50.0),
            percentile(ms, 90.0),
            percentile(ms, 99.0),
            ms.last().copied().unwrap_or(0.0)
        );
    }
}

#[tokio::main]
async fn main() {
    let iterations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = listener.local_addr().unwrap();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    tokio::spawn(receiver(listener, seen_tx));

    let bench = "name = \"bench\"\ninterval = \"1h\"\ntimeout = \"10s\"\n\
         regions = [\"bench-a\", \"bench-b\", \"bench-c\"]\n\
         [[steps]]\nname = \"home\"\nget = \"http://127.0.0.1:9/\"\nexpect = [\"status == 200\"]\n\
         [alert]\nafter = 1\nrecover_after = 1\nglobal_regions = 2\nconfirm = true\n";
    let setup = BenchScheduler::new(
        &[("bench.toml", bench)],
        &format!(
            "probe_silence = \"1h\"\n\n\
             [[notify]]\nkind = \"webhook\"\nurl = \"http://{hook}/webhook\"\nsecret = \"{SECRET}\"\n\n\
             [[notify]]\nkind = \"alertmanager\"\nurl = \"http://{hook}/alertmanager\"\nresend_interval = \"1h\"\n\n\
             [[notify]]\nkind = \"pagerduty\"\nurl = \"http://{hook}/pagerduty\"\nrouting_key = \"R0UT1NGKEY\"\n\n\
             [[notify]]\nkind = \"slack\"\nurl = \"http://{hook}/slack\"\n"
        ),
    );
    let tokens: Vec<_> = REGIONS
        .iter()
        .map(|region| {
            let name = format!("p-{region}");
            let token = setup.token(&name, region);
            (name, *region, token)
        })
        .collect();
    let mut server = setup.start().await;
    let addr = setup.addr;
    let mut probes = Vec::new();
    for (name, region, token) in tokens {
        let mut p = ProbeClient::connect(addr, &name, region, token).await;
        p.send("GET", "/api/v1/plan", String::new()).await;
        probes.push(p);
    }
    let [a, b, c] = &mut probes[..] else {
        unreachable!("three probes")
    };
    for p in [&mut *a, &mut *b, &mut *c] {
        p.post(true, None).await;
    }
    println!(
        "alert latency bench: {iterations} iterations, 4 notifiers, {} CPUs",
        std::thread::available_parallelism().map_or(0, usize::from)
    );

    let mut firing: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut resolved: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut early = 0usize;
    for _ in 0..iterations {
        a.post(false, None).await;
        let for_b = b.confirmation().await;
        let for_c = c.confirmation().await;
        b.post(true, Some(&for_b)).await;
        // Held until every confirmation is in: nothing may have been sent.
        tokio::time::sleep(Duration::from_millis(5)).await;
        while let Ok((path, _, _)) = seen.try_recv() {
            eprintln!("sent before the last confirmation: {path}");
            early += 1;
        }
        let start = Instant::now();
        c.post(true, Some(&for_c)).await;
        for (path, at) in arrivals(&mut seen, "firing").await {
            let ms = at.duration_since(start).as_secs_f64() * 1e3;
            firing.entry(path).or_default().push(ms);
        }
        let start = Instant::now();
        a.post(true, None).await;
        for (path, at) in arrivals(&mut seen, "resolved").await {
            let ms = at.duration_since(start).as_secs_f64() * 1e3;
            resolved.entry(path).or_default().push(ms);
        }
    }
    assert_eq!(early, 0, "alerts were sent before their confirmations");
    println!("| event | receiver | alerts | p50 | p90 | p99 | max |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    report("firing", &mut firing);
    report("resolved", &mut resolved);
    let status = server.terminate(Duration::from_secs(30)).await.unwrap();
    assert!(status.success());
}
