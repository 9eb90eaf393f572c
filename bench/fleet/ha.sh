#!/usr/bin/env bash
# Scheduler replicas and sizing: in one run, ingest on (a) SQLite, (b)
# PostgreSQL with one replica, (c) PostgreSQL with three replicas sharing
# it, each first as fast as the clients can post, then at a fleet's rate
# with probes long-polling their plans. PostgreSQL runs from Debian's
# binaries in a temp dir on a loopback port with its durable defaults
# (fsync, synchronous_commit and full_page_writes on), stopped at the end.
# Writes the "Fleet: replicas and sizing" section of BENCHMARKS.md.
#
#   bench/fleet/ha.sh
#
# Environment: CLIENTS, PER_CLIENT (the unpaced part), SCENARIOS, RATE
# (results/s asked), SECONDS_RUN, PROBES, REGIONS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }
cargo build --release --locked --bins -p sonde-probe -p sonde-scheduler

clients=${CLIENTS:-6}; per_client=${PER_CLIENT:-30000}
scenarios=${SCENARIOS:-10000}; rate=${RATE:-8300}; seconds=${SECONDS_RUN:-60}
probes=${PROBES:-500}; regions=${REGIONS:-50}
args=("$clients" "$per_client" --scenarios "$scenarios" --rate "$rate" --seconds "$seconds" --probes "$probes" --regions "$regions" --json)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() { # NAME ARGS…: one configuration; stops the whole run if it aborted
  local name=$1; shift
  if ! cargo bench --locked -p sonde-scheduler --bench ingest -- "${args[@]}" "$@" 2>/dev/null >"$out/$name"; then
    cat "$out/$name"; echo "the $name run failed; nothing written" >&2; exit 1
  fi
  grep -v '^json: ' "$out/$name" >&2
}
run sqlite --store sqlite
run pg1 --store postgres --replicas 1
run pg3 --store postgres --replicas 3

PYTHONPATH="$root/bench" python3 - "$root/BENCHMARKS.md" "$out" "${args[*]}" <<'PY'
from section import write_section
import json, sys, datetime, os, subprocess
path, out, args = sys.argv[1], sys.argv[2], sys.argv[3]
def load(name):
    for line in open(os.path.join(out, name)):
        if line.startswith("json: "):
            return json.loads(line[6:])
    raise SystemExit(f"no figures from the {name} run")
runs = [("SQLite", load("sqlite")), ("PostgreSQL, 1 replica", load("pg1")), ("PostgreSQL, 3 replicas", load("pg3"))]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
s0 = runs[0][1]["scale"]
per_day = 1000 * 1440  # 1,000 scenarios x regions at one run a minute
def pg(v): return f"{v:.1f} µs" if v else "—"
lines = [
"## Fleet: replicas and sizing",
"",
f"Measured {date} on {nproc} cores (`nproc`; {cpu}), {mem:.0f} GiB, with `bench/fleet/ha.sh` "
f"(`cargo bench -p sonde-scheduler --bench ingest -- {args} --store sqlite|postgres [--replicas 3]`).",
"",
"Release scheduler binaries; the bench plays the probes over HTTP on loopback. "
f"{runs[0][1]['scenarios']:,} scenarios in the catalog, results cycling over them (5-step results of about 1.8 KB of JSON, batches of 500). "
"SQLite: WAL, `synchronous=FULL`. PostgreSQL 15 from Debian's binaries in a temp dir, its durable defaults "
"(`fsync=on`, `synchronous_commit=on`, `full_page_writes=on`), on the same disk and the same two cores. "
"With three replicas the clients and probes are spread over the three URLs. CPU comes from `/proc/PID/stat` "
"(user + system ticks), summed over the replicas; PostgreSQL's is its postmaster and every backend. "
"The bench stops at the first answer a probe would not accept (any non-2xx).",
"",
"### Ingest as fast as the clients post",
"",
f"{runs[0][1]['clients']} clients, {runs[0][1]['results']:,} results per configuration.",
"",
"| store | results/s | scheduler CPU per result | scheduler cores | per replica (µs/result) | PostgreSQL CPU per result | PostgreSQL cores | bytes per stored result |",
"| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
]
for name, r in runs:
    reps = ", ".join(f"{v:.1f}" + (" (leader)" if r["replicas"] > 1 and i == r["leader"] else "") for i, v in enumerate(r["replica_us_per_result"]))
    lines.append(f"| {name} | {r['results_per_s']:,.0f} | {r['scheduler_us_per_result']:.1f} µs | {r['scheduler_cores']:.2f} | {reps} | {pg(r['postgres_us_per_result'])} | {r['postgres_cores']:.2f} | {r['bytes_per_result']:,.0f} |")
lines += [
"",
"### At a fleet's rate, with probes long-polling",
"",
f"Asked {s0['rate_asked']:,.0f} results/s"
+ (" (10,000 scenarios × 50 regions at one run a minute)" if s0['rate_asked'] >= 8300 else "")
+ f" for {runs[0][1]['scale']['seconds']:.0f} s from 6 paced clients, "
f"while {s0['probes']} probes in {s0['regions']} regions register (`GET /api/v1/plan`) and long-poll with `If-None-Match` and `wait=25s`.",
"",
f"| store | results/s sustained | plan answers/s | {s0['probes']} probes registered in | scheduler CPU per result | scheduler cores | per replica (µs/result) | PostgreSQL CPU per result | PostgreSQL cores |",
"| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
]
for name, r in runs:
    s = r["scale"]
    reps = ", ".join(f"{v:.1f}" + (" (leader)" if r["replicas"] > 1 and i == r["leader"] else "") for i, v in enumerate(s["replica_us_per_result"]))
    lines.append(f"| {name} | {s['results_per_s']:,.0f} | {s['plans_per_s']:,.1f} | {s['registration_s']:.2f} s | {s['scheduler_us_per_result']:.1f} µs | {s['scheduler_cores']:.2f} | {reps} | {pg(s['postgres_us_per_result'])} | {s['postgres_cores']:.2f} |")
def evaluation(r):
    # The leader alone evaluates alerts: its CPU per result above the mean
    # follower's is what evaluation (and leading) costs.
    reps, lead = r["replica_us_per_result"], r.get("leader")
    if lead is None or len(reps) < 2:
        return None
    followers = [v for i, v in enumerate(reps) if i != lead]
    return reps[lead] - sum(followers) / len(followers)
fleet_per_day = 10000 * 50 * 1440  # 10,000 scenarios x 50 regions at one run a minute
pg3 = runs[2][1]
ev = [e for e in (evaluation(pg3), evaluation(pg3["scale"])) if e is not None]
lines += [
"",
"Alert evaluation per result (the leader's CPU per result minus the mean follower's, three replicas): "
+ (", ".join(f"{e:.1f} µs" for e in ev) + " (as fast as posted, at the fleet's rate)" if ev else "not measured (no leader found)") + ".",
"",
"Database growth at one run a minute per 1,000 scenarios × regions (1,440,000 results a day): "
+ ", ".join(f"{name} {r['bytes_per_result'] * per_day / 2**30:.2f} GiB/day" for name, r in runs[:2])
+ f"; at 10,000 scenarios × 50 regions ({fleet_per_day:,} results a day): "
+ ", ".join(f"{name} {r['bytes_per_result'] * fleet_per_day / 2**30:,.0f} GiB/day" for name, r in runs[:2]) + ".",
"",
]
write_section(path, "\n".join(lines))
PY
