#!/usr/bin/env bash
# Schedule lateness, memory and plan reload of one probe agent with N
# one-GET scenarios against a local nginx: the real scheduler serves the
# plan and stores the results; lateness is started_at − scheduled_at of
# every stored run. Prints one JSON line; bench/fleet/run.sh writes
# BENCHMARKS.md.
#
#   bench/fleet/schedule.sh [SCENARIOS] [SECONDS] [INTERVAL_S] [RELOAD_AT_S]
#
# RELOAD_AT_S > 0 rewrites every scenario file that many seconds after the
# agent took its first plan, so each gets a new version: the scheduler
# reloads its catalog and the agent receives a plan where all of them
# changed. Reported: from the last file written to the agent's timer having
# the new plan in force (its "Plan in force." log line), runs that still
# used an old version a second after the change, and missed runs: planned
# slots (the agent's stable per scenario × region offsets, recomputed here)
# with no stored result, and consecutive runs further apart than the
# interval.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scenarios=${1:-1000}; seconds=${2:-75}; interval=${3:-10}; reload_at=${4:-0}
bin="$root/target/release"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

sed -e "s#PIDFILE#$work/nginx.pid#" -e "s#TMPDIR#$work#g" "$root/bench/probe/nginx.conf" >"$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work" 2>"$work/nginx.log" & pids+=($!)

mkdir -p "$work/scenarios" "$work/data" "$work/spool"
write_scenarios() { # REVISION
  python3 - "$work/scenarios" "$scenarios" "$interval" "$1" <<'PY'
import sys
d, n, interval, rev = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
width = len(str(n))
for i in range(1, n + 1):
    name = f"s{i:0{width}d}"
    with open(f"{d}/{name}.toml", "w") as f:
        f.write(f'# revision {rev}\nname = "{name}"\ninterval = "{interval}s"\n[[steps]]\nname = "get"\n'
                'get = "http://127.0.0.1:18080/"\nexpect = ["status == 200"]\n')
PY
}
write_scenarios 1
cat >"$work/scheduler.toml" <<TOML
listen = "127.0.0.1:19570"
data_dir = "$work/data"
scenarios_dir = "$work/scenarios"
TOML
"$bin/scheduler" token create --config "$work/scheduler.toml" --name bench --region local >"$work/token"
"$bin/scheduler" serve --config "$work/scheduler.toml" 2>"$work/scheduler.log" & pids+=($!)
for _ in $(seq 1 600); do curl -fsS -o /dev/null http://127.0.0.1:19570/readyz 2>/dev/null && break; sleep 0.1; done

"$bin/probe" agent --scheduler http://127.0.0.1:19570 --region local --name bench --token-file "$work/token" \
  --spool-dir "$work/spool" --listen 127.0.0.1:19571 --allow-target 127.0.0.0/8 --rate-limit 0 --concurrency 512 \
  2>"$work/probe.log" & agent=$!; pids+=($agent)
for _ in $(seq 1 600); do grep -q '"Plan in force."' "$work/probe.log" && break; sleep 0.1; done
# Memory with the plan compiled, before most scenarios ran once.
sleep 1; rss_planned=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
changed_at=""
if [ "$reload_at" -gt 0 ]; then
  sleep "$reload_at"
  write_scenarios 2
  changed_at=$(date +%s.%N)
  sleep $((seconds - reload_at))
else
  sleep "$seconds"
fi
rss_now=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
rss_peak=$(awk '/VmHWM/ {print $2}' "/proc/$agent/status")
cpu=$(awk '{print ($14 + $15)}' "/proc/$agent/stat")
hz=$(getconf CLK_TCK)
stopped_at=$(date +%s.%N)
kill -TERM "$agent"; wait "$agent" 2>/dev/null || true
sleep 1

python3 - "$work/data" "$rss_now" "$rss_peak" "$cpu" "$hz" "$seconds" "$scenarios" "$interval" \
  "$work/probe.log" "$stopped_at" "$changed_at" "$rss_planned" <<'PY'
import sqlite3, sys, glob, json, hashlib, datetime
from collections import defaultdict
(data, rss_now, rss_peak, cpu, hz, seconds, scenarios, interval, log, stopped_at, changed_at, rss_planned) = sys.argv[1:13]
interval_ms = int(interval) * 1000
stopped_ms = float(stopped_at) * 1000
changed_ms = float(changed_at) * 1000 if changed_at else None

def log_lines():
    for line in open(log):
        try:
            yield json.loads(line)
        except ValueError:
            pass

def ms(entry):
    t = datetime.datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00"))
    return t.timestamp() * 1000

lines = list(log_lines())
received = [(ms(e), e) for e in lines if e.get("message") == "Plan received."]
in_force = [(ms(e), e) for e in lines if e.get("message") == "Plan in force."]
first_plan_ms = (in_force or received)[0][0]

db = glob.glob(f"{data}/*.db") + glob.glob(f"{data}/*.sqlite*")
con = sqlite3.connect(sorted(db)[0])
rows = con.execute("select scenario, version, scheduled_at, started_at, outcome from results").fetchall()
# Times are stored as Unix milliseconds, the wire's resolution.
late = sorted(float(b - a) for _, _, a, b, _ in rows)
q = lambda p: late[min(len(late) - 1, max(0, int(round(p * len(late))) - 1))] if late else float("nan")
ok = sum(1 for *_, o in rows if o == "success")

# The agent's slots: offset = first 8 bytes (big-endian) of
# SHA-256(scenario, 0, region) modulo the period, past multiples of it.
period_ns = interval_ms * 1_000_000
def slots(name, start_ms, end_ms):
    digest = hashlib.sha256(name.encode() + b"\0" + b"local").digest()
    offset = int.from_bytes(digest[:8], "big") % period_ns
    k = (int(start_ms * 1_000_000) - offset) // period_ns + 1
    while (t := k * period_ns + offset) / 1_000_000 < end_ms:
        yield t // 1_000_000
        k += 1

runs = defaultdict(list)
for name, version, scheduled, *_ in rows:
    runs[name].append((scheduled, version))
# Slots from a second after the first plan was in force to three seconds
# before the stop (runs in flight then are finished and delivered at exit).
window = (first_plan_ms + 1000, stopped_ms - 3000)
names = [f"s{i:0{len(scenarios)}d}" for i in range(1, int(scenarios) + 1)]
missed_slots = gaps = 0
for name in names:
    have = sorted(runs.get(name, []))
    stamps = {s for s, _ in have}
    for slot in slots(name, *window):
        if not any(slot + d in stamps for d in (-1, 0, 1)):
            missed_slots += 1
    gaps += sum(1 for (a, _), (b, _) in zip(have, have[1:]) if b - a > interval_ms + 1000)

out = {"scenarios": int(scenarios), "seconds": int(seconds), "interval_s": int(interval), "runs": len(rows),
  "successes": ok, "lateness_ms_p50": q(0.50), "lateness_ms_p99": q(0.99), "lateness_ms_max": late[-1] if late else None,
  "rss_planned_mb": int(rss_planned) / 1024, "rss_mb": int(rss_now) / 1024, "peak_rss_mb": int(rss_peak) / 1024,
  "cpu_percent": int(cpu) / int(hz) / int(seconds) * 100,
  "min_runs_per_scenario": min((len(runs.get(n, [])) for n in names), default=0),
  "missed_slots": missed_slots, "gaps": gaps}
if changed_ms is not None:
    after = lambda xs: [(t, e) for t, e in xs if t > changed_ms]
    got = after(received)
    took = after(in_force)
    out["reload_plan_received_ms"] = round(got[0][0] - changed_ms) if got else None
    out["reload_in_force_ms"] = round(took[0][0] - changed_ms) if took else None
    old = {n: {v for s, v in rs if s < changed_ms} for n, rs in runs.items()}
    out["stale_runs"] = sum(1 for n, rs in runs.items() for s, v in rs if s > changed_ms + 1000 and v in old[n])
print(json.dumps(out))
PY
