#!/usr/bin/env bash
# Fleet benchmarks: scheduler ingest throughput into the durable store, and
# one probe agent's schedule lateness, memory and plan reload with 10,000
# scenarios at a 60 s interval.
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
schedule=$("$here/schedule.sh" "${SCENARIOS:-10000}" "${SECONDS_RUN:-180}" "${INTERVAL_S:-60}" "${RELOAD_AT_S:-90}")

PYTHONPATH="$root/bench" python3 - "$root/BENCHMARKS.md" "$ingest" "$schedule" <<'PY'
from section import write_section
import json, re, sys, datetime, os, subprocess
path, ingest, schedule = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
rate = re.search(r"([0-9]+) results/s", ingest)
cpu_per = re.search(r"scheduler CPU ([0-9.]+) µs per result", ingest)
rate_goal = 50_000
if rate and cpu_per:
    met = "met" if int(rate.group(1)) >= rate_goal else "not met"
    ingest_verdict = f"Ingest: {int(rate.group(1)):,} results/s at {cpu_per.group(1)} µs of scheduler CPU per result — goal (≥ {rate_goal:,}/s) {met}."
else:
    ingest_verdict = "Ingest: the bench printed no rate — goal not met."
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
s = schedule
met = lambda ok: "met" if ok else "not met"
ms = lambda v: "none" if v is None else f"{v:,} ms"
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
ingest_verdict,
"",
"### Probe agent: schedule lateness, memory and plan reload",
"",
f"One `probe agent` following a plan of {s['scenarios']:,} scenarios at a {s['interval_s']} s interval (one GET each on a local nginx) for {s['seconds']} s, "
"served by the real scheduler (`bench/fleet/schedule.sh`). Lateness is `started_at − scheduled_at` of every stored run, "
"at the wire's millisecond resolution. Halfway, every scenario file is rewritten (a new version of each): the reload time runs "
"from the last file written to the agent's `Plan in force.` line (the scheduler's 200 ms debounce and catalog load included); "
"a missed run is a planned slot (the agent's offsets, recomputed) without a stored result, or two consecutive runs of a scenario "
"further apart than the interval; stale runs are those a second after the change that still ran an old version.",
"",
"| runs | successes | lateness p50 | p99 | max | RSS, plan compiled | RSS at the end | peak RSS | agent CPU |",
"| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
f"| {s['runs']:,} | {s['successes']:,} | {s['lateness_ms_p50']:.0f} ms | {s['lateness_ms_p99']:.0f} ms | {s['lateness_ms_max']:.0f} ms | {s['rss_planned_mb']:.1f} MB | {s['rss_mb']:.1f} MB | {s['peak_rss_mb']:.1f} MB | {s['cpu_percent']:.1f} % |",
"",
"| goal | measured | met |",
"| --- | ---: | --- |",
f"| lateness p99 ≤ 5 ms | {s['lateness_ms_p99']:.0f} ms | {met(s['lateness_ms_p99'] <= 5)} |",
f"| RSS ≤ 60 MB | {s['peak_rss_mb']:.1f} MB peak | {met(s['peak_rss_mb'] <= 60)} |",
f"| reload of all {s['scenarios']:,} < 1 s | {ms(s.get('reload_in_force_ms'))} (plan received after {ms(s.get('reload_plan_received_ms'))}; {s.get('stale_runs', 0)} runs on an old version a second after the change) | {met(s.get('reload_in_force_ms') is not None and s['reload_in_force_ms'] < 1000)} |",
f"| 0 missed runs | {s['missed_slots']} slots without a result, {s['gaps']} gaps | {met(s['missed_slots'] == 0 and s['gaps'] == 0)} |",
"",
]
section = "\n".join(lines)
write_section(sys.argv[1], section)
PY
