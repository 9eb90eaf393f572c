#!/usr/bin/env bash
# Schedule lateness and memory of one probe agent with 1,000 scenarios at a
# 10 s interval against a local nginx: the real scheduler serves the plan
# and stores the results; lateness is started_at − scheduled_at of every
# stored run. Prints one JSON line; bench/fleet/run.sh writes BENCHMARKS.md.
#
#   bench/fleet/schedule.sh [SCENARIOS] [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
scenarios=${1:-1000}; seconds=${2:-75}
bin="$root/target/release"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

sed -e "s#PIDFILE#$work/nginx.pid#" -e "s#TMPDIR#$work#g" "$root/bench/probe/nginx.conf" >"$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work" 2>"$work/nginx.log" & pids+=($!)

mkdir -p "$work/scenarios" "$work/data" "$work/spool"
for i in $(seq -w 1 "$scenarios"); do
  printf 'name = "s%s"\ninterval = "10s"\n[[steps]]\nname = "get"\nget = "http://127.0.0.1:18080/"\nexpect = ["status == 200"]\n' "$i" \
    >"$work/scenarios/s$i.toml"
done
cat >"$work/scheduler.toml" <<TOML
listen = "127.0.0.1:19570"
data_dir = "$work/data"
scenarios_dir = "$work/scenarios"
TOML
"$bin/scheduler" token create --config "$work/scheduler.toml" --name bench --region local >"$work/token"
"$bin/scheduler" serve --config "$work/scheduler.toml" 2>"$work/scheduler.log" & pids+=($!)
for _ in $(seq 1 200); do curl -fsS -o /dev/null http://127.0.0.1:19570/readyz 2>/dev/null && break; sleep 0.1; done

"$bin/probe" agent --scheduler http://127.0.0.1:19570 --region local --name bench --token-file "$work/token" \
  --spool-dir "$work/spool" --listen 127.0.0.1:19571 --allow-target 127.0.0.0/8 --rate-limit 0 --concurrency 512 \
  2>"$work/probe.log" & agent=$!; pids+=($agent)
sleep "$seconds"
rss_now=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status")
rss_peak=$(awk '/VmHWM/ {print $2}' "/proc/$agent/status")
cpu=$(awk '{print ($14 + $15)}' "/proc/$agent/stat")
hz=$(getconf CLK_TCK)
kill -TERM "$agent"; wait "$agent" 2>/dev/null || true
sleep 1

python3 - "$work/data" "$rss_now" "$rss_peak" "$cpu" "$hz" "$seconds" "$scenarios" <<'PY'
import sqlite3, sys, glob, json
data, rss_now, rss_peak, cpu, hz, seconds, scenarios = sys.argv[1:8]
db = glob.glob(f"{data}/*.db") + glob.glob(f"{data}/*.sqlite*")
con = sqlite3.connect(sorted(db)[0])
rows = con.execute("select scheduled_at, started_at, outcome from results").fetchall()
# Times are stored as Unix milliseconds, the wire's resolution.
late = sorted(float(b - a) for a, b, _ in rows)
q = lambda p: late[min(len(late) - 1, max(0, int(round(p * len(late))) - 1))] if late else float("nan")
ok = sum(1 for *_, o in rows if o == "success")
print(json.dumps({"scenarios": int(scenarios), "seconds": int(seconds), "runs": len(rows), "successes": ok,
  "lateness_ms_p50": q(0.50), "lateness_ms_p99": q(0.99), "lateness_ms_max": late[-1] if late else None,
  "rss_mb": int(rss_now) / 1024, "peak_rss_mb": int(rss_peak) / 1024,
  "cpu_percent": int(cpu) / int(hz) / int(seconds) * 100}))
PY
