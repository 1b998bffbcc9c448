#!/usr/bin/env bash
# Runs taskflow-bench's long-horizon scenarios at full size on private servers, one invocation
# each (a failure in one keeps the others' results), and prints their tables. About an hour
# and a quarter on the 2-core machine: history ~15 min, longtx ~25 min, soak ~35 min.
#   SCENARIOS ("history longtx soak"), BENCH_ARGS (extra taskflow-bench arguments, e.g.
#   "--history-tasks 300000" or "--longtx-minutes 1,1,1 --rate 1000" for a short trial),
#   OUT (folder for the JSON results; a new temporary one by default)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SCENARIOS="${SCENARIOS:-history longtx soak}"
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"

started_here=0
cleanup() { if [ "$started_here" = 1 ]; then scripts/services.sh stop || true; fi; }
trap cleanup EXIT
if scripts/services.sh status | grep -q stopped; then started_here=1; fi
eval "$(scripts/services.sh start)"
export NATS_URL DATABASE_URL

swift build -c release >&2
BIN="$(swift build -c release --show-bin-path)"
failed=0
for scenario in $SCENARIOS; do
    echo "[bench-long] $scenario (results in $OUT/$scenario.json)" >&2
    # shellcheck disable=SC2086
    if "$BIN/taskflow-bench" --scenarios "$scenario" ${BENCH_ARGS:-} --output "$OUT/$scenario.json" >"$OUT/$scenario.out"; then
        sed -n '/^| scenario |/,$p' "$OUT/$scenario.out"
        echo
    else
        echo "[bench-long] $scenario failed" >&2
        failed=1
    fi
done
exit "$failed"
