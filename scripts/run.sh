#!/usr/bin/env bash
# Runs TaskFlow locally: installs what is missing, starts private NATS and PostgreSQL
# (scripts/services.sh), builds in release, starts the API and $WORKERS worker processes
# (migrations apply at start-up), and prints the URLs. Ctrl-C (or SIGTERM) drains the workers,
# stops the API and stops the servers it started.
#   WORKERS (2), HTTP_PORT (8080), WORKER_METRICS_BASE_PORT (9100), LOG_FORMAT (text)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORKERS="${WORKERS:-2}"
HTTP_PORT="${HTTP_PORT:-8080}"
METRICS_BASE="${WORKER_METRICS_BASE_PORT:-9100}"
DATA="${TASKFLOW_DATA:-$ROOT/.taskflow}"
LOGS="$DATA/logs"
export LOG_FORMAT="${LOG_FORMAT:-text}"

log() { printf '[run] %s\n' "$*" >&2; }

started_services=0
pids=()
worker_pids=()
stopping=0
shutdown() {
    [ "$stopping" = 1 ] && return
    stopping=1
    log "draining workers"
    for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${worker_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    log "stopping the API"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ "$started_services" = 1 ]; then scripts/services.sh stop || true; fi
    log "stopped"
}
trap 'shutdown; exit 0' INT TERM
trap shutdown EXIT

if scripts/services.sh status | grep -q stopped; then started_services=1; fi
eval "$(scripts/services.sh start)"
export NATS_URL DATABASE_URL

log "building (release)"
swift build -c release >&2
BIN="$(swift build -c release --show-bin-path)"
mkdir -p "$LOGS"

HTTP_HOST=127.0.0.1 HTTP_PORT="$HTTP_PORT" "$BIN/api" >>"$LOGS/api.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$HTTP_PORT/api/v1/health" >/dev/null 2>&1 && break
    kill -0 "${pids[0]}" 2>/dev/null || { log "the API exited; see $LOGS/api.log"; tail -20 "$LOGS/api.log" >&2; exit 1; }
    sleep 0.2
done

for i in $(seq 1 "$WORKERS"); do
    WORKER_ID="worker-$i" WORKER_METRICS_PORT=$((METRICS_BASE + i)) "$BIN/worker" >>"$LOGS/worker-$i.log" 2>&1 &
    worker_pids+=($!)
done

cat <<INFO

TaskFlow is running.
  Dashboard:  http://127.0.0.1:$HTTP_PORT/dashboard
  API:        http://127.0.0.1:$HTTP_PORT/api/v1  (spec: /api/v1/openapi.yaml, metrics: /metrics)
  Workers:    $WORKERS  (metrics and health on ports $((METRICS_BASE + 1))-$((METRICS_BASE + WORKERS)))
  NATS:       $NATS_URL
  PostgreSQL: $DATABASE_URL
  Logs:       $LOGS
  Streams:    $BIN/js-info --server $NATS_URL

Try:
  curl -s -X POST http://127.0.0.1:$HTTP_PORT/api/v1/tasks -H 'content-type: application/json' \\
       -d '{"type":"demo","payload":{"hello":"world"}}'

Ctrl-C drains the workers and stops everything.
INFO

# Wait for a signal, or for a process to die.
while true; do
    for pid in "${pids[@]}" "${worker_pids[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then log "process $pid exited; stopping"; exit 1; fi
    done
    sleep 1 &
    wait $! || true
done
