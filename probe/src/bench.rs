//! `probe bench FILE --runs N --concurrency C`: runs one scenario N times
//! in-process, C at a time, and prints throughput and CPU cost as one JSON
//! line, so `bench/` measures the runner and not process start-up.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::time::Instant;

use crate::cli::{EXIT_INVALID, NetArgs, load_all, runner};
use crate::run::RunTrigger;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// The scenario to run.
    file: PathBuf,
    /// Runs in total.
    #[arg(long, default_value_t = 1000)]
    runs: u64,
    /// Runs in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: u64,
    #[command(flatten)]
    net: NetArgs,
}

pub async fn run(args: BenchArgs) -> ExitCode {
    let Some(files) = load_all(std::slice::from_ref(&args.file)) else {
        return ExitCode::from(EXIT_INVALID);
    };
    let Some(file) = files.into_iter().next() else {
        return ExitCode::from(EXIT_INVALID);
    };
    let runner = match runner(&args.net, false) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    runner.net.warm_up([&file.scenario]).await;
    let scenario = Arc::new(file.scenario);
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let durations = Arc::new(std::sync::Mutex::new(Vec::with_capacity(
        args.runs as usize,
    )));
    let cpu_before = cpu_split();
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (runner, scenario, next, failures) = (
            runner.clone(),
            scenario.clone(),
            next.clone(),
            failures.clone(),
        );
        let durations = durations.clone();
        let runs = args.runs;
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < runs {
                let result = runner.run(&scenario, RunTrigger::now()).await;
                if !result.outcome.is_success() {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                let first_step = result
                    .steps
                    .first()
                    .and_then(|s| s.duration_ms)
                    .unwrap_or(0.0);
                if let Ok(mut d) = durations.lock() {
                    d.push(first_step);
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu_after = cpu_split();
    let system = cpu_after.1 - cpu_before.1;
    let cpu = cpu_after.0 - cpu_before.0 + system;
    // A started Chromium must not outlive the bench (it is not counted in
    // `cpu`: that is this process's own).
    if let Some(browser) = &runner.browser {
        browser.shutdown().await;
    }
    let steps = args.runs * scenario.steps.len() as u64;
    let mut first_steps = durations.lock().map(|d| d.clone()).unwrap_or_default();
    first_steps.sort_by(f64::total_cmp);
    let line = serde_json::json!({
        "scenario": scenario.name,
        "runs": args.runs,
        "concurrency": args.concurrency,
        "steps": steps,
        "failures": failures.load(Ordering::Relaxed),
        "wall_s": wall,
        "runs_per_s": args.runs as f64 / wall,
        "steps_per_s": steps as f64 / wall,
        "cpu_us_per_run": cpu * 1e6 / args.runs.max(1) as f64,
        "cpu_us_per_step": cpu * 1e6 / steps.max(1) as f64,
        "cpu_percent": cpu / wall * 100.0,
        "cpu_system_us_per_step": system * 1e6 / steps.max(1) as f64,
        "peak_rss_kb": peak_rss_kb(),
        "first_step_ms_p50": percentile(&first_steps, 0.50),
        "first_step_ms_p99": percentile(&first_steps, 0.99),
    });
    println!("{line}");
    if failures.load(Ordering::Relaxed) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// User + system CPU seconds of this process, from /proc (Linux).
/// User and system CPU seconds of this process, from /proc (Linux): the
/// system part is the kernel's work for the process (sockets, TCP on
/// loopback, wake-ups), which no runner code can make cheaper.
fn cpu_split() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at ")".
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    (ticks(11) / 100.0, ticks(12) / 100.0)
}

/// Peak resident set size in KiB (VmHWM).
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The `q` quantile of sorted values (nearest rank).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
