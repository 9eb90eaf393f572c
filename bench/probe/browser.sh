#!/usr/bin/env bash
# Browser runs: what one run of the example browser journey costs the
# probe and the Chromium it drives. `probe bench` runs
# scenarios/examples/shop-app.toml N times against the demo shop with
# `--browser-path` (one Chromium for the whole bench, a browser context per
# run, as the agent does); the processes are watched from outside: CPU
# (utime + stime from /proc, every process of the tree) and memory (the
# tree's summed PSS, so pages Chromium's processes share count once).
# Writes the "## Browser runs" section of BENCHMARKS.md.
#
#   bench/probe/browser.sh [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${1:-${RUNS:-100}}
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "error: no Chromium at $chromium (apt-get install chromium)" >&2; exit 2; }
cd "$root"
cargo build --release --locked -q -p sonde-probe --bin probe -p sonde-tests --bin demo-shop
bin="$root/target/release"

work=$(mktemp -d)
shop=""
cleanup() { [ -n "$shop" ] && kill "$shop" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=19480
"$bin/demo-shop" --http "127.0.0.1:$port" --https 127.0.0.1:0 --dns 127.0.0.1:0 --state-dir "$work/shop" \
  >"$work/shop.out" 2>"$work/shop.log" & shop=$!
for _ in $(seq 1 100); do grep -q "demo-shop ready" "$work/shop.out" 2>/dev/null && break; sleep 0.1; done
grep -q "demo-shop ready" "$work/shop.out" || { echo "error: the demo shop did not start" >&2; cat "$work/shop.log" >&2; exit 1; }
sed "s#http://127.0.0.1:9480#http://127.0.0.1:$port#" scenarios/examples/shop-app.toml >"$work/shop-app.toml"

SONDE_SECRET_SHOP_PASSWORD=demo python3 - "$bin/probe" "$work/shop-app.toml" "$runs" "$chromium" "$root/BENCHMARKS.md" "$root/bench" <<'PY'
import json, os, subprocess, sys, time, datetime
probe, scenario, runs, chromium, path, bench_dir = sys.argv[1:7]
sys.path.insert(0, bench_dir)
from section import write_section

hz = os.sysconf("SC_CLK_TCK")
def children():
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            kids.setdefault(int(fields[1]), []).append(int(pid))
        except OSError:
            pass
    return kids
def tree(root):
    kids, todo, out = children(), [root], []
    while todo:
        p = todo.pop(); out.append(p); todo.extend(kids.get(p, []))
    return out
def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
def pss_kb(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0

start = time.monotonic()
bench = subprocess.Popen([probe, "bench", scenario, "--runs", runs, "--browser-path", chromium],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
last_cpu, peak_pss, peak_procs = {}, 0, 0
while bench.poll() is None:
    pss = 0
    pids = tree(bench.pid)
    for pid in pids:
        try:
            last_cpu[pid] = cpu_ticks(pid)
            pss += pss_kb(pid)
        except OSError:
            pass
    peak_pss, peak_procs = max(peak_pss, pss), max(peak_procs, len(pids))
    time.sleep(0.05)
wall = time.monotonic() - start
out, err = bench.communicate()
if bench.returncode != 0 or not out.strip():
    sys.exit(f"error: probe bench failed (exit {bench.returncode}): {err.strip()[-2000:]} {out.strip()[-500:]}")
b = json.loads(out.strip().splitlines()[-1])
if b["failures"]:
    sys.exit(f"error: {b['failures']} of {runs} browser runs failed: no measurement")
n = int(runs)
tree_cpu_ms = sum(last_cpu.values()) / hz * 1000 / n
probe_cpu_ms = b["cpu_us_per_run"] / 1000
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
version = subprocess.run([chromium, "--version"], capture_output=True, text=True).stdout.strip()
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
lines = [
"## Browser runs",
"",
f"Measured {date} on {os.cpu_count()} cores ({cpu}) with `bench/probe/browser.sh {runs}`: "
f"`probe bench` runs scenarios/examples/shop-app.toml (9 actions: sign in, choose, buy, wait for the thank-you) {runs} times, "
f"one at a time, against the demo shop on loopback, driving {version} started with `--browser-path` "
"(one Chromium for the bench, a browser context per run). CPU is utime + stime of every process of the tree "
"read from /proc every 50 ms; memory is the tree's summed PSS (shared pages counted once) at its peak.",
"",
"| | per run | |",
"| --- | ---: | --- |",
f"| wall time | {b['wall_s'] * 1000 / n:,.0f} ms | {b['runs_per_s']:.1f} runs/s |",
f"| probe CPU | {probe_cpu_ms:,.1f} ms | the probe process alone, from its own /proc |",
f"| probe + Chromium CPU | {tree_cpu_ms:,.0f} ms | {tree_cpu_ms / max(probe_cpu_ms, 1e-9):.0f}× the probe's own |",
f"| probe peak RSS | {b['peak_rss_kb'] / 1024:.1f} MB | |",
f"| probe + Chromium peak PSS | {peak_pss / 1024:.0f} MB | up to {peak_procs} processes |",
"",
"The browser is the cost of a browser journey: the probe's part is the DevTools messages and the result. "
"Size a browser probe for Chromium (CPU per run × runs per second, and its memory), not for the probe.",
"",
]
write_section(path, "\n".join(lines))
PY
