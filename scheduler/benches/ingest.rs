//! Ingest throughput: results per second sustained into the durable store
//! by several concurrent clients over HTTP, on SQLite (WAL,
//! `synchronous=FULL`) or on PostgreSQL (durable settings) with one or
//! more replicas; then, with `--rate`, a bounded run at a fleet's rate with
//! probes long-polling their plans.
//!
//! Conditions (BENCHMARKS.md, "Fleet" and "Fleet: replicas and sizing"):
//! 5-step results of about 1.8 KB of JSON each, batches of 500, rate limits
//! raised for the run, a release build, stores in temp dirs on the
//! machine's disk. The bench stops at the first answer a probe would not
//! accept (any non-2xx), since a rate of failures is no measurement.
//!
//! `cargo bench -p sonde-scheduler --bench ingest [-- CLIENTS RESULTS_PER_CLIENT]
//!   [--store sqlite|postgres] [--replicas N] [--scenarios N]
//!   [--rate RESULTS_PER_S --seconds S --probes N --regions N] [--json]`
#![allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "benches stamp real times and measure real elapsed time; the injected clock is for the code under test"
)]
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod support;
use support::BenchScheduler;
use support::load::{self, BATCH, Connection, Identity, Tally};

/// Paced clients posting results in the fleet-rate run.
const PACED_CLIENTS: usize = 6;
/// How long a simulated probe's plan request is held (the agent's own).
const PLAN_WAIT: Duration = Duration::from_secs(25);

struct Options {
    clients: usize,
    per_client: usize,
    postgres: bool,
    replicas: usize,
    scenarios: usize,
    rate: Option<f64>,
    seconds: u64,
    probes: usize,
    regions: usize,
    json: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| -> Option<String> {
        let at = args.iter().position(|a| a == name)?;
        let value = args.get(at + 1).unwrap_or_else(|| {
            panic!("`{name}` needs a value");
        });
        Some(value.clone())
    };
    let number = |name: &str, default: usize| -> usize {
        flag(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("`{name} {v}`: expected a whole number"))
        })
    };
    // The positional CLIENTS RESULTS_PER_CLIENT: numbers not a flag's value.
    let positional: Vec<usize> = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || !args[i - 1].starts_with("--"))
        .filter_map(|(_, a)| a.parse().ok())
        .collect();
    let store = flag("--store").unwrap_or_else(|| "sqlite".into());
    let postgres = match store.as_str() {
        "sqlite" => false,
        "postgres" => true,
        other => panic!("`--store {other}`: expected `sqlite` or `postgres`"),
    };
    let replicas = number("--replicas", 1);
    assert!(
        postgres || replicas == 1,
        "`--replicas {replicas}` needs `--store postgres`: replicas share one PostgreSQL"
    );
    Options {
        clients: positional.first().copied().unwrap_or(8),
        per_client: positional.get(1).copied().unwrap_or(25_000),
        postgres,
        replicas,
        scenarios: number("--scenarios", 1).max(1),
        rate: flag("--rate").map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("`--rate {v}`: expected results per second"))
        }),
        seconds: number("--seconds", 60) as u64,
        probes: number("--probes", 0),
        regions: number("--regions", 50).max(1),
        json: args.iter().any(|a| a == "--json"),
    }
}

/// The schedulers under test and the database they share.
struct Fleet {
    replicas: Vec<BenchScheduler>,
    postgres: Option<sonde_tests::postgres::OwnServer>,
    database_url: Option<String>,
}

impl Fleet {
    fn new(o: &Options, scenarios: &[(String, String)], probes_config: &str) -> Fleet {
        let (postgres, database_url) = if o.postgres {
            let server =
                sonde_tests::postgres::Server::own_with(sonde_tests::postgres::Durability::Durable)
                    .unwrap_or_else(|why| panic!("no PostgreSQL for the bench: {why}"));
            let url = server.database("bench");
            (Some(server), Some(url))
        } else {
            (None, None)
        };
        let files: Vec<(&str, &str)> = scenarios
            .iter()
            .map(|(f, t)| (f.as_str(), t.as_str()))
            .collect();
        let replicas = (0..o.replicas)
            .map(|i| {
                let mut config = String::from(
                    "ingest_rate = 10000000\ningest_burst = 10000000\nmax_batch_bytes = 16777216\n",
                );
                if let Some(url) = &database_url {
                    config.push_str(&format!("database_url = \"{url}\"\nreplica = \"r{i}\"\n"));
                }
                config.push_str(probes_config);
                BenchScheduler::new(&files, &config)
            })
            .collect();
        Fleet {
            replicas,
            postgres,
            database_url,
        }
    }

    fn postmaster(&self) -> Option<u32> {
        self.postgres.as_ref().and_then(|s| s.postmaster_pid())
    }

    fn database_cpu(&self) -> f64 {
        self.postmaster()
            .map_or(0.0, load::process_tree_cpu_seconds)
    }

    /// Bytes the store takes on disk now.
    fn store_bytes(&self) -> u64 {
        match &self.postgres {
            Some(server) => server
                .psql("bench", "SELECT pg_database_size(current_database())")
                .parse()
                .unwrap(),
            None => {
                let db = self.replicas[0].store_path();
                let size = |p: std::path::PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
                size(db.clone()) + size(db.with_extension("db-wal"))
            }
        }
    }

    fn stored_results(&self) -> u64 {
        match &self.postgres {
            Some(server) => server
                .psql("bench", "SELECT count(*) FROM results")
                .parse()
                .unwrap(),
            None => scheduler::store::open_direct(&self.replicas[0].store_path(), 0)
                .unwrap()
                .count_results()
                .map(|n| u64::try_from(n).unwrap())
                .unwrap(),
        }
    }
}

/// CPU seconds of each replica so far.
fn replica_cpu(pids: &[u32]) -> Vec<f64> {
    pids.iter().map(|p| load::cpu_seconds(*p, false)).collect()
}

fn diff(after: &[f64], before: &[f64]) -> Vec<f64> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

/// Which replica holds the leader lease, from each one's `/metrics`.
async fn leader(fleet: &Fleet) -> Option<usize> {
    for (i, r) in fleet.replicas.iter().enumerate() {
        let mut conn = Connection::open(r.addr).await.ok()?;
        let metrics = conn.get("/metrics").await.ok()?;
        let leads = metrics
            .lines()
            .filter(|l| l.starts_with("sonde_scheduler_leader{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .any(|v| v == 1.0);
        if leads {
            return Some(i);
        }
    }
    None
}

fn abort(why: &str) -> ! {
    println!("aborted: {why}");
    std::process::exit(1);
}

#[tokio::main]
async fn main() {
    let o = options();
    let scenarios: Vec<(String, String)> = (0..o.scenarios)
        .map(|i| {
            let name = if o.scenarios == 1 {
                "checkout".to_owned()
            } else {
                format!("journey-{i:05}")
            };
            (format!("{name}.toml"), load::scenario(&name))
        })
        .collect();
    let names: Arc<Vec<String>> = Arc::new(
        scenarios
            .iter()
            .map(|(f, _)| f.trim_end_matches(".toml").to_owned())
            .collect(),
    );
    // Every simulated probe is a `[[probe]]` entry, so all replicas know
    // its token without a round trip through the CLI.
    let mut probes_config = String::new();
    let mut identity = |probe: String, region: String| {
        let (who, entry) = Identity::declared(&probe, &region);
        probes_config.push_str(&entry);
        who
    };
    let bulk: Vec<Identity> = (0..o.clients)
        .map(|c| identity(format!("bench-{c}"), "bench".into()))
        .collect();
    let paced: Vec<Identity> = (0..PACED_CLIENTS)
        .map(|c| identity(format!("paced-{c}"), format!("paced-{c}")))
        .collect();
    let pollers: Vec<Identity> = (0..o.probes)
        .map(|p| identity(format!("poll-{p}"), format!("region-{}", p % o.regions)))
        .collect();

    let mut size = 0usize;
    let work: Vec<(Identity, Vec<String>)> = bulk
        .into_iter()
        .map(|who| {
            let mut batches = Vec::new();
            let mut left = o.per_client;
            while left > 0 {
                let n = left.min(BATCH);
                let body = load::batch(&names, &who.probe, &who.region, n, left);
                size += body.len();
                batches.push(body);
                left -= n;
            }
            (who, batches)
        })
        .collect();

    let fleet = Fleet::new(&o, &scenarios, &probes_config);
    let mut servers = Vec::new();
    for r in &fleet.replicas {
        servers.push(r.start().await);
    }
    let pids: Vec<u32> = servers.iter().map(|s| s.pid().unwrap()).collect();
    let addrs: Vec<_> = fleet.replicas.iter().map(|r| r.addr).collect();
    let store = if o.postgres {
        format!("PostgreSQL, {} replica(s)", o.replicas)
    } else {
        "SQLite".to_owned()
    };
    let total = o.clients * o.per_client;
    println!(
        "ingest bench: {} clients x {} results, batches of {BATCH}, {:.0} bytes of JSON per result, {} scenarios, {store}, {} CPUs",
        o.clients,
        o.per_client,
        size as f64 / total.max(1) as f64,
        o.scenarios,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    let bytes_empty = fleet.store_bytes();

    // 1. As fast as the clients can post, spread over the replicas.
    let cpu_before = replica_cpu(&pids);
    let db_before = fleet.database_cpu();
    let start = Instant::now();
    let handles: Vec<_> = work
        .into_iter()
        .enumerate()
        .map(|(c, (who, batches))| {
            let addr = addrs[c % addrs.len()];
            tokio::spawn(async move {
                let mut conn = Connection::open(addr).await?;
                let mut accepted = 0;
                for body in batches {
                    accepted += conn.post_results(&who, body).await?;
                }
                Ok::<usize, String>(accepted)
            })
        })
        .collect();
    let mut accepted = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(n) => accepted += n,
            Err(e) => abort(&e),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = diff(&replica_cpu(&pids), &cpu_before);
    let db_cpu = fleet.database_cpu() - db_before;
    if accepted != total {
        abort(&format!("{accepted} of {total} results accepted"));
    }
    let cpu_sum: f64 = cpu.iter().sum();
    let per_result = |s: f64, n: usize| s * 1e6 / n.max(1) as f64;
    println!(
        "ingested {accepted} results in {elapsed:.2}s: {:.0} results/s ({:.1} MB/s of JSON); scheduler CPU {:.1} µs per result ({:.2} cores busy)",
        accepted as f64 / elapsed,
        size as f64 / elapsed / 1e6,
        per_result(cpu_sum, accepted),
        cpu_sum / elapsed
    );
    let leader_at = if o.replicas > 1 {
        leader(&fleet).await
    } else {
        Some(0)
    };
    if o.postgres {
        println!(
            "PostgreSQL CPU {:.1} µs per result ({:.2} cores busy); per replica µs per result: {}{}",
            per_result(db_cpu, accepted),
            db_cpu / elapsed,
            cpu.iter()
                .map(|c| format!("{:.1}", per_result(*c, accepted)))
                .collect::<Vec<_>>()
                .join(", "),
            leader_at.map_or(String::new(), |l| format!(" (leader r{l})"))
        );
    }

    // 2. A fleet's rate for a bounded time, with probes long-polling.
    let mut scale = serde_json::Value::Null;
    if let Some(rate) = o.rate {
        let tally = Arc::new(Tally::default());
        let until = Instant::now() + Duration::from_secs(o.seconds);
        let cpu_before = replica_cpu(&pids);
        let db_before = fleet.database_cpu();
        let start = Instant::now();
        let mut tasks = Vec::new();
        for (p, who) in pollers.iter().enumerate() {
            let (addr, tally) = (addrs[p % addrs.len()], tally.clone());
            tasks.push(tokio::spawn(load::long_poll(
                addr,
                who.clone(),
                PLAN_WAIT,
                until,
                tally,
            )));
        }
        let registered = {
            let t = tally.clone();
            let probes = o.probes as u64;
            tokio::spawn(async move {
                while t.plans.load(Ordering::Relaxed) < probes && !t.stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                start.elapsed().as_secs_f64()
            })
        };
        for (c, who) in paced.iter().enumerate() {
            let (addr, tally) = (addrs[c % addrs.len()], tally.clone());
            tasks.push(tokio::spawn(load::paced_results(
                addr,
                who.clone(),
                names.clone(),
                rate / PACED_CLIENTS as f64,
                until,
                tally,
            )));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let elapsed = start.elapsed().as_secs_f64();
        let cpu = diff(&replica_cpu(&pids), &cpu_before);
        let db_cpu = fleet.database_cpu() - db_before;
        if let Some(e) = tally.first_error() {
            abort(&e);
        }
        let registration = registered.await.unwrap();
        let results = tally.accepted.load(Ordering::Relaxed) as usize;
        let plans = tally.plans.load(Ordering::Relaxed);
        let cpu_sum: f64 = cpu.iter().sum();
        println!(
            "fleet rate: asked {rate:.0} results/s for {}s with {} probes long-polling (wait {}s) over {} regions: {results} results in {elapsed:.1}s = {:.0} results/s; {plans} plan answers = {:.1}/s, all {} probes registered in {registration:.2}s; scheduler CPU {:.1} µs per result ({:.2} cores), PostgreSQL {:.1} µs per result ({:.2} cores)",
            o.seconds,
            o.probes,
            PLAN_WAIT.as_secs(),
            o.regions,
            results as f64 / elapsed,
            plans as f64 / elapsed,
            o.probes,
            per_result(cpu_sum, results),
            cpu_sum / elapsed,
            per_result(db_cpu, results),
            db_cpu / elapsed
        );
        scale = serde_json::json!({
            "rate_asked": rate, "seconds": elapsed, "results": results,
            "results_per_s": results as f64 / elapsed, "probes": o.probes,
            "regions": o.regions, "plan_answers": plans,
            "plans_per_s": plans as f64 / elapsed, "registration_s": registration,
            "scheduler_us_per_result": per_result(cpu_sum, results),
            "scheduler_cores": cpu_sum / elapsed,
            "replica_us_per_result": cpu.iter().map(|c| per_result(*c, results)).collect::<Vec<_>>(),
            "postgres_us_per_result": per_result(db_cpu, results),
            "postgres_cores": db_cpu / elapsed,
            "leader": leader_at,
        });
    }

    for mut s in servers {
        let status = s.terminate(Duration::from_secs(30)).await.unwrap();
        assert!(status.success(), "a scheduler exited with {status}");
    }
    let stored = fleet.stored_results();
    let bytes = fleet.store_bytes();
    println!("stored rows after SIGTERM: {stored}");
    let bytes_per_result = (bytes.saturating_sub(bytes_empty)) as f64 / stored.max(1) as f64;
    println!(
        "store: {bytes} bytes on disk, {bytes_per_result:.0} bytes per stored result{}",
        if fleet.database_url.is_some() {
            " (pg_database_size)"
        } else {
            " (SQLite file and WAL)"
        }
    );
    if o.json {
        let json = serde_json::json!({
            "store": if o.postgres { "postgres" } else { "sqlite" },
            "replicas": o.replicas, "scenarios": o.scenarios,
            "clients": o.clients, "results": accepted, "seconds": elapsed,
            "results_per_s": accepted as f64 / elapsed,
            "scheduler_us_per_result": per_result(cpu_sum, accepted),
            "scheduler_cores": cpu_sum / elapsed,
            "replica_us_per_result": cpu.iter().map(|c| per_result(*c, accepted)).collect::<Vec<_>>(),
            "leader": leader_at,
            "postgres_us_per_result": per_result(db_cpu, accepted),
            "postgres_cores": db_cpu / elapsed,
            "stored": stored, "bytes_per_result": bytes_per_result,
            "scale": scale,
        });
        println!("json: {json}");
    }
}
