#!/usr/bin/env bash
# Timing accuracy from outside: the step duration Sonde reports against
# curl's `time_total` on the same URL, interleaved, in both modes a user
# has:
#   run    a fresh `probe run` process per run (CI, a laptop), as curl is;
#   agent  one `probe agent` running the scenario once a second from the
#          real scheduler's plan, curl once a second half a second apart.
# Prints one JSON line. The target must already answer at URL (run.sh
# starts nginx); the scheduler and agent are started here on loopback.
#
#   bench/probe/accuracy.sh URL [RUNS] [AGENT_RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
url=$1; runs=${2:-200}; agent_runs=${3:-90}
bin="$root/target/release"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/scenarios" "$work/data" "$work/spool"
printf 'name = "accuracy"\ninterval = "1s"\n[[steps]]\nname = "get"\nget = "%s"\nexpect = ["status == 200"]\n' "$url" \
  >"$work/scenarios/accuracy.toml"
curl_ms() { curl -s -o /dev/null -w '%{time_total}\n' "$url" | awk '{printf "%.6f\n", $1 * 1000}'; }
# Stops the benchmark when the target answers an error: a rate of
# failures is no measurement.
curl -fsS -o /dev/null "$url" || { echo "accuracy: $url does not answer 2xx" >&2; exit 1; }

# 1. probe run, a fresh process per run, interleaved with curl.
: >"$work/run.curl"; : >"$work/run.sonde"
for _ in $(seq 1 "$runs"); do
  curl_ms >>"$work/run.curl"
  "$bin/probe" run "$work/scenarios/accuracy.toml" --format json >"$work/one.json" ||
    { echo "accuracy: probe run failed: $(cat "$work/one.json")" >&2; exit 1; }
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['steps'][0]['duration_ms'])" "$work/one.json" >>"$work/run.sonde"
done

# 2. probe agent, one run a second, with curl once a second in between.
cat >"$work/scheduler.toml" <<TOML
listen = "127.0.0.1:19580"
data_dir = "$work/data"
scenarios_dir = "$work/scenarios"
TOML
"$bin/scheduler" token create --config "$work/scheduler.toml" --name accuracy --region local >"$work/token"
"$bin/scheduler" serve --config "$work/scheduler.toml" 2>"$work/scheduler.log" & pids+=($!)
for _ in $(seq 1 200); do curl -fsS -o /dev/null http://127.0.0.1:19580/readyz 2>/dev/null && break; sleep 0.1; done
"$bin/probe" agent --scheduler http://127.0.0.1:19580 --region local --name accuracy --token-file "$work/token" \
  --spool-dir "$work/spool" --listen 127.0.0.1:19581 --allow-target 127.0.0.0/8 --rate-limit 0 \
  2>"$work/probe.log" & pids+=($!)
: >"$work/agent.curl"
sleep 2.5
for _ in $(seq 1 "$agent_runs"); do curl_ms >>"$work/agent.curl"; sleep 1; done
curl -fsS "http://127.0.0.1:19580/api/v1/scenarios/accuracy/runs?limit=$agent_runs" >"$work/agent.json"

python3 - "$work" "$runs" "$agent_runs" <<'PY'
import json, sys
work, runs, agent_runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(name): return [float(l) for l in open(f"{work}/{name}") if l.strip()]
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(p * len(v))) - 1))]
agent = [r["steps"][0]["duration_ms"] for r in json.load(open(f"{work}/agent.json"))["runs"]
         if r["outcome"] == "success" and r["steps"][0]["duration_ms"] is not None]
if len(agent) < agent_runs * 0.9:
    sys.exit(f"accuracy: only {len(agent)} agent runs stored, expected about {agent_runs}")
out = {}
for mode, curl, sonde in [("run", load("run.curl"), load("run.sonde")), ("agent", load("agent.curl"), agent)]:
    out[mode] = {"samples": len(sonde), "curl_p50": q(curl, .5), "curl_p99": q(curl, .99),
                 "sonde_p50": q(sonde, .5), "sonde_p99": q(sonde, .99)}
print(json.dumps(out))
PY
