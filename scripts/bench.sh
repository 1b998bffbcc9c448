#!/usr/bin/env bash
# Runs taskflow-bench RUNS times (default 3) on private servers and prints the medians as a
# markdown table. `scripts/bench.sh --quick` runs one small pass.
#   RUNS (3), BENCH_ARGS (extra taskflow-bench arguments)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
RUNS="${RUNS:-3}"
QUICK=""
[ "${1:-}" = "--quick" ] && { QUICK="--quick"; RUNS=1; }

started_here=0
cleanup() { if [ "$started_here" = 1 ]; then scripts/services.sh stop || true; fi; }
trap cleanup EXIT
if scripts/services.sh status | grep -q stopped; then started_here=1; fi
eval "$(scripts/services.sh start)"
export NATS_URL DATABASE_URL

swift build -c release >&2
BIN="$(swift build -c release --show-bin-path)"
OUT="$(mktemp -d)"
for run in $(seq 1 "$RUNS"); do
    echo "[bench] run $run of $RUNS" >&2
    # shellcheck disable=SC2086
    "$BIN/taskflow-bench" $QUICK ${BENCH_ARGS:-} --output "$OUT/run$run.json" >&2
done

python3 - "$OUT"/run*.json <<'PY'
import json, statistics, sys
runs = [json.load(open(path)) for path in sys.argv[1:]]
def med(*path):
    values = []
    for run in runs:
        value = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (int, float)):
            values.append(value)
    return statistics.median(values) if values else None
def f(value):
    return "n/a" if value is None else f"{value:,.1f}"
def cpu_per_unit(scenario, cpu_key, count_key):
    """Median CPU µs (all processes) per task or request: what each phase costs the two cores."""
    values = []
    for run in runs:
        section = run.get(scenario) or {}
        cpu = (section.get(cpu_key) or {}).get("byGroup")
        count = section.get(count_key)
        if cpu and count:
            values.append(sum(cpu.values()) * 1e6 / count)
    return statistics.median(values) if values else None
rows = [
    ("Burn-down: batch enqueue", "tasks/s", f(med("burndown", "enqueuePerSecond"))),
    ("Burn-down: processing", "tasks/s", f(med("burndown", "processPerSecond"))),
    ("REST create", "requests/s", f(med("rest", "requestsPerSecond"))),
    ("REST create latency", "p50 / p99 ms", f"{f(med('rest', 'p50ms'))} / {f(med('rest', 'p99ms'))}"),
    ("CPU per task: enqueue / processing", "µs, all processes",
     f"{f(cpu_per_unit('burndown', 'enqueueCPU', 'tasks'))} / {f(cpu_per_unit('burndown', 'processCPU', 'tasks'))}"),
    ("CPU per REST request", "µs, all processes", f(cpu_per_unit("rest", "cpu", "requests"))),
    ("Steady 500/s: enqueue→start", "p50 / p95 / p99 / max ms",
     " / ".join(f(med("steady", k)) for k in ("startP50ms", "startP95ms", "startP99ms", "startMaxMs"))),
    ("Steady 500/s: enqueue→complete", "p50 / p95 / p99 / max ms",
     " / ".join(f(med("steady", k)) for k in ("completeP50ms", "completeP95ms", "completeP99ms", "completeMaxMs"))),
    ("High priority behind the low backlog: enqueue→start", "p50 / p99 ms",
     f"{f(med('priority', 'highStartP50ms'))} / {f(med('priority', 'highStartP99ms'))}"),
    ("Peak RSS, API", "MB", f(max(filter(None, [med("rest", "apiPeakRSSMB"), med("steady", "apiPeakRSSMB")]), default=None))),
    ("Peak RSS, one worker (concurrency 64)", "MB",
     f(max(filter(None, [med("burndown", "workerPeakRSSMB"), med("steady", "workerPeakRSSMB")]), default=None))),
]
print(f"Medians of {len(runs)} run(s):\n")
print("| measure | unit | median |")
print("|---|---|---|")
for name, unit, value in rows:
    print(f"| {name} | {unit} | {value} |")
PY
