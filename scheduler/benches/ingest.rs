//! Ingest throughput: results per second sustained into the durable store
//! (WAL, `synchronous=FULL`) by several concurrent clients over HTTP.
//!
//! Conditions (BENCHMARKS.md, "Fleet"): 5-step results of about 1.5 KB of
//! JSON each, batches of 500, rate limits raised for the run, a release
//! build, the store in a temp dir on the machine's disk.
//!
//! `cargo bench -p sonde-scheduler --bench ingest [-- CLIENTS RESULTS_PER_CLIENT]`
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "benches stamp real times and measure real elapsed time; the injected clock is for the code under test"
)]
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

mod support;
use support::BenchScheduler;

const BATCH: usize = 500;
const SCENARIO: &str = r#"name = "checkout"
interval = "30s"
[[steps]]
name = "home"
get = "http://127.0.0.1:9/"
[[steps]]
name = "login"
get = "http://127.0.0.1:9/login"
[[steps]]
name = "products"
get = "http://127.0.0.1:9/products"
[[steps]]
name = "add to cart"
get = "http://127.0.0.1:9/cart"
[[steps]]
name = "checkout"
get = "http://127.0.0.1:9/checkout"
"#;

/// One 5-step result as JSON text (about 1.5 KB), written by hand so the
/// set-up stays cheap next to the measured part.
fn result(probe: &str) -> String {
    let now = scenarios::wire::time::format(&chrono::Utc::now());
    let step = |name: &str, path: &str| {
        format!(
            r#"{{"name":"{name}","kind":"http","status":"passed","duration_ms":12.5,"phases":{{"dns_ms":null,"connect_ms":0.21,"tls_ms":null,"ttfb_ms":11.7,"transfer_ms":0.59}},"http":{{"method":"GET","url":"http://127.0.0.1:9480{path}","status":200,"version":"HTTP/1.1"}},"tls":null,"dns":null,"assertions":[{{"expr":"status == 200","passed":true,"expected":"200","actual":"200"}}],"captures":[],"error":null}}"#
        )
    };
    let skipped = |name: &str| {
        format!(
            r#"{{"name":"{name}","kind":"http","status":"skipped","duration_ms":null,"phases":null,"http":null,"tls":null,"dns":null,"assertions":[],"captures":[],"error":null}}"#
        )
    };
    // A run that failed at its third step: three steps ran, two were skipped.
    let steps = [
        step("home", "/"),
        step("login", "/api/login"),
        step("products", "/api/products"),
        skipped("add to cart"),
        skipped("checkout"),
    ]
    .join(",");
    format!(
        r#"{{"id":"{}","scenario":"checkout","version":"sha256:3f2a9c","probe":"{probe}","region":"bench","scheduled_at":"{now}","started_at":"{now}","duration_ms":63.4,"outcome":"success","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","run_request":null,"steps":[{steps}]}}"#,
        uuid::Uuid::now_v7()
    )
}

async fn client(
    addr: std::net::SocketAddr,
    probe: String,
    token: String,
    batches: Vec<String>,
) -> usize {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut accepted = 0;
    for body in batches {
        let req = Request::post("/api/v1/results")
            .header("host", "bench")
            .header("authorization", format!("Bearer {token}"))
            .header("x-sonde-probe", &probe)
            .header("x-sonde-region", "bench")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = sender.send_request(req).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let ack: serde_json::Value = serde_json::from_slice(&body).unwrap();
        accepted += ack["accepted"].as_array().unwrap().len();
    }
    accepted
}

/// User + system CPU seconds a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let clients = args.first().copied().unwrap_or(8);
    let per_client = args.get(1).copied().unwrap_or(25_000);
    let setup = BenchScheduler::new(
        &[("checkout.toml", SCENARIO)],
        "ingest_rate = 10000000\ningest_burst = 10000000\nmax_batch_bytes = 16777216\n",
    );
    let mut work = Vec::new();
    let mut size = 0usize;
    for c in 0..clients {
        let probe = format!("bench-{c}");
        let token = setup.token(&probe, "bench");
        let mut batches = Vec::new();
        let mut left = per_client;
        while left > 0 {
            let n = left.min(BATCH);
            let results: Vec<_> = (0..n).map(|_| result(&probe)).collect();
            let body = format!("{{\"results\":[{}]}}", results.join(","));
            size += body.len();
            batches.push(body);
            left -= n;
        }
        work.push((probe, token, batches));
    }
    let mut server = setup.start().await;
    let addr = setup.addr;
    let pid = server.pid().unwrap();
    let total = clients * per_client;
    println!(
        "ingest bench: {clients} clients x {per_client} results, batches of {BATCH}, {:.0} bytes of JSON per result, {} CPUs",
        size as f64 / total as f64,
        std::thread::available_parallelism().map_or(0, usize::from)
    );

    let cpu_before = cpu_seconds(pid);
    let start = Instant::now();
    let handles: Vec<_> = work
        .into_iter()
        .map(|(p, t, b)| tokio::spawn(client(addr, p, t, b)))
        .collect();
    let mut accepted = 0;
    for h in handles {
        accepted += h.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu_before;
    assert_eq!(accepted, total);
    println!(
        "ingested {accepted} results in {elapsed:.2}s: {:.0} results/s ({:.1} MB/s of JSON); scheduler CPU {:.1} µs per result ({:.2} cores busy)",
        accepted as f64 / elapsed,
        size as f64 / elapsed / 1e6,
        cpu * 1e6 / accepted as f64,
        cpu / elapsed
    );
    let status = server.terminate(Duration::from_secs(30)).await.unwrap();
    assert!(status.success());
    let conn = scheduler::store::open_direct(&setup.store_path(), 0).unwrap();
    let stored = conn.count_results().unwrap();
    assert_eq!(usize::try_from(stored).unwrap(), total);
    println!("stored rows after SIGTERM: {stored}");
}
