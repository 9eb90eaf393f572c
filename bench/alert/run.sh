#!/usr/bin/env bash
# Alert latency: from the result that releases an alert (the last
# confirmation run's answer) reaching the scheduler to each notifier's
# request reaching its receiver, and the same for resolves. Writes the
# "Alerting" section of BENCHMARKS.md.
#
#   bench/alert/run.sh [ITERATIONS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
iterations=${1:-300}
out=$(cargo bench --locked -p sonde-scheduler --bench alert_latency -- "$iterations" 2>/dev/null | grep -E '^(alert latency bench|\|)')

PYTHONPATH="$root/bench" python3 - "$root/BENCHMARKS.md" "$out" "$iterations" <<'PY'
from section import write_section
import sys, datetime, os, subprocess
path, out, iterations = sys.argv[1], sys.argv[2], sys.argv[3]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
head, *table = out.strip().splitlines()
lines = [
"## Alerting",
"",
f"Measured {date} on {os.cpu_count()} cores ({cpu}) with `bench/alert/run.sh {iterations}` "
f"(`cargo bench -p sonde-scheduler --bench alert_latency -- {iterations}`).",
"",
"The release scheduler runs one scenario in three regions (`after = 1`, `confirm = true`) and notifies four receivers, "
"all served by a recording HTTP server in the bench process; the bench plays the three probes over HTTP. "
"Per iteration a failed run turns one region down, the two other probes take their confirmation runs from the plan and answer them; "
"the clock starts as the last answer is posted — the result that releases the held alert — and stops when each receiver gets its request. "
"A good run then resolves the alert, timed the same way. Every change commits to SQLite (WAL, `synchronous=FULL`) and goes through the "
"durable outbox before a notifier sends it. The bench also checks that nothing was sent before the last confirmation arrived. "
"Goal: p99 ≤ 1 s from the confirming result to the notifier's request.",
"",
head,
"",
*table,
"",
]
section = "\n".join(lines)
write_section(sys.argv[1], section)
PY
