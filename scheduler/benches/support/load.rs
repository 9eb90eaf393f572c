//! The client side of the fleet benchmarks: results as probes send them,
//! probes long-polling their plans, and the CPU the server processes used.
//! Any answer a probe would not accept counts as an error, and the bench
//! stops on the first one: a rate of failures is no measurement.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Results in one `POST /api/v1/results`, as the probe agent batches them.
pub const BATCH: usize = 500;

/// A 5-step scenario named `name`; its steps point at a closed port, since
/// the bench plays the probes and nothing runs them.
pub fn scenario(name: &str) -> String {
    let mut text = format!("name = \"{name}\"\ninterval = \"60s\"\n");
    for (step, path) in [
        ("home", "/"),
        ("login", "/login"),
        ("products", "/products"),
        ("add to cart", "/cart"),
        ("checkout", "/checkout"),
    ] {
        text.push_str(&format!(
            "[[steps]]\nname = \"{step}\"\nget = \"http://127.0.0.1:9{path}\"\n"
        ));
    }
    text
}

/// One 5-step result of `scenario` as JSON text (about 1.8 KB), written by
/// hand so making it stays cheap next to the measured part.
pub fn result(scenario: &str, probe: &str, region: &str) -> String {
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
        r#"{{"id":"{}","scenario":"{scenario}","version":"sha256:3f2a9c","probe":"{probe}","region":"{region}","scheduled_at":"{now}","started_at":"{now}","duration_ms":63.4,"outcome":"success","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","run_request":null,"steps":[{steps}]}}"#,
        uuid::Uuid::now_v7()
    )
}

/// A batch body of `n` results, cycling over `scenarios`.
pub fn batch(scenarios: &[String], probe: &str, region: &str, n: usize, from: usize) -> String {
    let results: Vec<_> = (0..n)
        .map(|i| result(&scenarios[(from + i) % scenarios.len()], probe, region))
        .collect();
    format!("{{\"results\":[{}]}}", results.join(","))
}

/// Who a simulated probe is: name, region and token.
#[derive(Clone)]
pub struct Identity {
    pub probe: String,
    pub region: String,
    pub token: String,
}

impl Identity {
    /// A fresh identity with a token in the scheduler's format, and the
    /// `[[probe]]` entry that declares it in `scheduler.toml`.
    pub fn declared(probe: &str, region: &str) -> (Identity, String) {
        use sha2::Digest;
        let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
        // 64 hex digits from a time-ordered UUID's random bits, hashed.
        let seed = format!("{}{probe}", uuid::Uuid::now_v7());
        let token = format!("sonde_{}", hex(&sha2::Sha256::digest(seed.as_bytes())));
        let digest = sha2::Sha256::digest(token.as_bytes());
        let hash = hex(&digest);
        let entry = format!(
            "[[probe]]\nname = \"{probe}\"\nregion = \"{region}\"\ntoken_sha256 = \"{hash}\"\n"
        );
        let identity = Identity {
            probe: probe.to_owned(),
            region: region.to_owned(),
            token,
        };
        (identity, entry)
    }
}

/// One keep-alive HTTP/1.1 connection, as a probe holds it.
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> Result<Connection, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| format!("handshake {addr}: {e}"))?;
        tokio::spawn(conn);
        Ok(Connection { sender })
    }

    /// Sends `request`; status, ETag and body.
    async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<(u16, Option<String>, Bytes), String> {
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, etag, body))
    }

    /// Posts one batch; how many results the scheduler accepted, or the
    /// answer that was not a 200.
    pub async fn post_results(&mut self, who: &Identity, body: String) -> Result<usize, String> {
        let request = Request::post("/api/v1/results")
            .header("host", "bench")
            .header("authorization", format!("Bearer {}", who.token))
            .header("x-sonde-probe", &who.probe)
            .header("x-sonde-region", &who.region)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let (status, _, body) = self.send(request).await?;
        if status != 200 {
            return Err(format!(
                "POST /api/v1/results answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        let ack: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(ack["accepted"].as_array().map_or(0, Vec::len))
    }

    /// `GET /api/v1/plan` with the ETag the probe has and `wait`; the new
    /// ETag (the same one on a 304).
    pub async fn plan(
        &mut self,
        who: &Identity,
        etag: Option<&str>,
        wait: Duration,
    ) -> Result<String, String> {
        let mut request = Request::get(format!("/api/v1/plan?wait={}s", wait.as_secs()))
            .header("host", "bench")
            .header("authorization", format!("Bearer {}", who.token))
            .header("x-sonde-probe", &who.probe)
            .header("x-sonde-region", &who.region);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let (status, new_etag, body) = self.send(request).await?;
        match (status, new_etag) {
            (200 | 304, Some(tag)) => Ok(tag),
            (status, _) => Err(format!(
                "GET /api/v1/plan answered {status} without the plan: {}",
                String::from_utf8_lossy(&body)
            )),
        }
    }

    /// A plain GET; the body of a 200.
    pub async fn get(&mut self, path: &str) -> Result<String, String> {
        let request = Request::get(path)
            .header("host", "bench")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let (status, _, body) = self.send(request).await?;
        if status != 200 {
            return Err(format!("GET {path} answered {status}"));
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

/// What the load saw: counts the clients add to, and the first error, which
/// stops every client.
#[derive(Default)]
pub struct Tally {
    pub accepted: AtomicU64,
    pub plans: AtomicU64,
    pub stop: AtomicBool,
    pub error: std::sync::Mutex<Option<String>>,
}

impl Tally {
    pub fn fail(&self, error: String) {
        self.stop.store(true, Ordering::SeqCst);
        let mut first = self.error.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(error);
    }

    pub fn first_error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A probe that long-polls its plan until `until` (or the first error):
/// registers with a plain GET, then asks again with the ETag it holds.
pub async fn long_poll(
    addr: SocketAddr,
    who: Identity,
    wait: Duration,
    until: Instant,
    tally: Arc<Tally>,
) {
    let mut conn = match Connection::open(addr).await {
        Ok(c) => c,
        Err(e) => return tally.fail(e),
    };
    let mut etag: Option<String> = None;
    while Instant::now() < until && !tally.stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        let this_wait = if etag.is_some() {
            wait.min(left)
        } else {
            Duration::ZERO
        };
        let asked = conn.plan(&who, etag.as_deref(), this_wait);
        // A held poll may outlast the run by up to a second (the wait is
        // in whole seconds); the run's end does not wait for it.
        match tokio::time::timeout(left + Duration::from_secs(2), asked).await {
            Ok(Ok(tag)) => {
                etag = Some(tag);
                tally.plans.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(e)) => return tally.fail(format!("probe {}: {e}", who.probe)),
            Err(_) => return,
        }
    }
}

/// A probe posting batches of `BATCH` results at `rate` results/s until
/// `until` (or the first error), cycling over `scenarios`.
pub async fn paced_results(
    addr: SocketAddr,
    who: Identity,
    scenarios: Arc<Vec<String>>,
    rate: f64,
    until: Instant,
    tally: Arc<Tally>,
) {
    let mut conn = match Connection::open(addr).await {
        Ok(c) => c,
        Err(e) => return tally.fail(e),
    };
    let every = Duration::from_secs_f64(BATCH as f64 / rate);
    let mut next = Instant::now();
    let mut sent = 0usize;
    while next < until && !tally.stop.load(Ordering::Relaxed) {
        tokio::time::sleep_until(next.into()).await;
        let body = batch(&scenarios, &who.probe, &who.region, BATCH, sent);
        sent += BATCH;
        match conn.post_results(&who, body).await {
            Ok(n) => {
                tally.accepted.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => return tally.fail(format!("probe {}: {e}", who.probe)),
        }
        next += every;
    }
}

/// User + system CPU seconds a process has used so far; with `children`,
/// also what its exited and reaped children used.
pub fn cpu_seconds(pid: u32, children: bool) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields = stat_fields(&stat);
    // After the parenthesised command name: utime, stime, cutime, cstime
    // are fields 14 to 17, here 11 to 14.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let own = ticks(11) + ticks(12);
    let reaped = if children { ticks(13) + ticks(14) } else { 0.0 };
    (own + reaped) / 100.0
}

fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(") ")
        .map_or("", |(_, r)| r)
        .split(' ')
        .collect()
}

/// CPU seconds of a server made of a parent and its worker processes (the
/// PostgreSQL postmaster and its backends): the parent with its reaped
/// children, and every live child.
pub fn process_tree_cpu_seconds(parent: u32) -> f64 {
    let mut total = cpu_seconds(parent, true);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return total;
    };
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The parent pid is field 4, here 1.
        let is_child = stat_fields(&stat)
            .get(1)
            .and_then(|p| p.parse::<u32>().ok())
            == Some(parent);
        if is_child {
            total += cpu_seconds(pid, true);
        }
    }
    total
}
