#!/usr/bin/env bash
# Fleet benchmarks: scheduler ingest throughput into the durable store, and
# one probe agent's schedule lateness and memory with 1,000 scenarios.
# Writes the "Fleet" section of BENCHMARKS.md.
#
#   bench/fleet/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
dpkg -s nginx >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; }
cargo build --release --locked --bins -p sonde-probe -p sonde-scheduler

clients=${CLIENTS:-4}; per_client=${PER_CLIENT:-50000}
ingest=$(cargo bench --locked -p sonde-scheduler --bench ingest -- "$clients" "$per_client" 2>/dev/null | grep -E '^(ingest bench|ingested|stored)')
schedule=$("$here/schedule.sh" "${SCENARIOS:-1000}" "${SECONDS_RUN:-75}")

PYTHONPATH="$root/bench" python3 - "$root/BENCHMARKS.md" "$ingest" "$schedule" <<'PY'
from section import write_section
import json, sys, datetime, os, subprocess
path, ingest, schedule = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
s = schedule
lines = [
"## Fleet",
"",
f"Measured {date} on {os.cpu_count()} cores ({cpu}) with `bench/fleet/run.sh`.",
"",
"### Scheduler ingest",
"",
"Release scheduler binary, results posted over HTTP by concurrent clients in batches of 500, 5-step results of about 1.5 KB of JSON, "
"rate limits raised for the run, every batch committed to SQLite (WAL, `synchronous=FULL`) before it is acknowledged "
"(`cargo bench -p sonde-scheduler --bench ingest -- CLIENTS RESULTS_PER_CLIENT`). Goal: ≥ 50,000 results/s.",
"",
"```text",
ingest.strip(),
"```",
"",
"### Probe agent: schedule lateness and memory",
"",
f"One `probe agent` following a plan of {s['scenarios']} scenarios at a 10 s interval (one GET each on a local nginx) for {s['seconds']} s, "
"served by the real scheduler (`bench/fleet/schedule.sh`). Lateness is `started_at − scheduled_at` of every stored run, "
"at the wire's millisecond resolution. Goals: p99 ≤ 5 ms, RSS ≤ 30 MB.",
"",
"| runs | successes | lateness p50 | p99 | max | RSS | peak RSS | agent CPU |",
"| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
f"| {s['runs']:,} | {s['successes']:,} | {s['lateness_ms_p50']:.0f} ms | {s['lateness_ms_p99']:.0f} ms | {s['lateness_ms_max']:.0f} ms | {s['rss_mb']:.1f} MB | {s['peak_rss_mb']:.1f} MB | {s['cpu_percent']:.1f} % |",
"",
]
section = "\n".join(lines)
write_section(sys.argv[1], section)
PY
