#!/usr/bin/env bash
# TaskFlow's failure suite: each scenario submits tasks through the API while 3 worker processes
# run, breaks something, waits for the queue to drain, and checks that nothing was lost, stuck or
# run to success twice. Prints one table; exits non-zero when an invariant breaks.
#   CHAOS_TASKS (2000)  tasks per scenario
#   CHAOS_SCENARIOS ("worker-kill nats-restart postgres-restart nats-cluster drain duplicates poison schedules limits cancel")
# Runs its own private servers under .taskflow/chaos (ports NATS_PORT 14322, PG_PORT 15532; the
# nats-cluster scenario's three nodes listen on 14331-14333, routes 16331-16333, monitoring
# 18331-18333). NATS_SERVER_BIN picks the nats-server binary.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TASKS="${CHAOS_TASKS:-2000}"
SCENARIOS="${CHAOS_SCENARIOS:-worker-kill nats-restart postgres-restart nats-cluster drain duplicates poison schedules limits cancel}"
export TASKFLOW_DATA="$ROOT/.taskflow/chaos"
export NATS_PORT="${CHAOS_NATS_PORT:-14322}" PG_PORT="${CHAOS_PG_PORT:-15532}"
API_PORT="${CHAOS_API_PORT:-18500}"
API="http://127.0.0.1:$API_PORT"
SHUTDOWN_TIMEOUT=10
mkdir -p "$TASKFLOW_DATA"

log() { printf '[chaos] %s\n' "$*" >&2; }

api_pid=""
worker_pids=(0 0 0)
cluster_pids=(0 0 0)
cleanup() {
    for pid in "${worker_pids[@]}" $api_pid "${cluster_pids[@]}"; do [ "$pid" != 0 ] && kill -9 "$pid" 2>/dev/null || true; done
    scripts/services.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

eval "$(scripts/services.sh start)"
export NATS_URL DATABASE_URL
SINGLE_NATS_URL="$NATS_URL"
swift build -c release >&2
BIN="$(swift build -c release --show-bin-path)"

start_api() {
    HTTP_HOST=127.0.0.1 HTTP_PORT=$API_PORT "$BIN/api" >>"$RUN/api.log" 2>&1 &
    api_pid=$!
    for _ in $(seq 1 100); do curl -fs "$API/api/v1/health" >/dev/null 2>&1 && return 0; sleep 0.1; done
    log "the API did not start"; return 1
}

start_worker() {  # start_worker INDEX
    WORKER_ID="chaos-worker-$1-$RANDOM" WORKER_CONCURRENCY=16 WORKER_SUCCESS_LOG="$RUN/success.log" \
        WORKER_SHUTDOWN_TIMEOUT=${SHUTDOWN_TIMEOUT}s "$BIN/worker" >>"$RUN/worker-$1.log" 2>&1 &
    worker_pids[$1]=$!
}

# Submits TASKS mixed tasks (demo, sleep 50-500 ms, fail 1-2 times, dead); retries while the
# API answers 503 (PostgreSQL down), as a client would. Writes the accepted count.
submit() {
    local bodies="$RUN/bodies"
    : >"$bodies"
    for i in $(seq 1 "$TASKS"); do
        local priority=normal
        case $((i % 3)) in 0) priority=high ;; 1) priority=low ;; esac
        case $((i % 10)) in
            0|1|2|3|4) echo "{\"type\":\"demo\",\"priority\":\"$priority\"}" ;;
            5|6) echo "{\"type\":\"sleep\",\"priority\":\"$priority\",\"payload\":{\"ms\":$((50 + (i * 37) % 450))}}" ;;
            7|8) echo "{\"type\":\"fail\",\"priority\":\"$priority\",\"payload\":{\"times\":$((1 + i % 2))}}" ;;
            9) echo "{\"type\":\"dead\",\"priority\":\"$priority\"}" ;;
        esac >>"$bodies"
    done
    # shellcheck disable=SC2016
    xargs -P 16 -d '\n' -I{} bash -c '
        for attempt in $(seq 1 120); do
            code=$(curl -s -o /dev/null -w "%{http_code}" -X POST -H "content-type: application/json" --data "$1" "$2/api/v1/tasks") || code=000
            [ "$code" = 201 ] && { echo ok; exit 0; }
            sleep 0.5
        done
        echo "gave up: $1" >&2' _ {} "$API" <"$bodies" | wc -l >"$RUN/accepted"
}

sql() { psql -qtAX "$DATABASE_URL" -c "SET search_path TO $SCHEMA" -c "$1" 2>/dev/null | tail -n1; }

wait_drained() {  # wait_drained SECONDS -> prints seconds taken, or "timeout"
    # Drained: every task terminal, and every failed task's dead letter published (one that could
    # not go out when the task failed, say during a leader change, goes out with the reconciler
    # after its grace).
    local start=$SECONDS
    while [ $((SECONDS - start)) -lt "$1" ]; do
        local open
        open=$(sql "SELECT count(*) FROM tasks WHERE status IN ('scheduled','queued','running','retrying') OR (status = 'failed' AND dead_lettered_at IS NULL)" || echo x)
        [ "$open" = 0 ] && { echo $((SECONDS - start)); return 0; }
        sleep 1
    done
    echo timeout
}

publish_raw() {  # publish_raw FILE_OF "subject payload" LINES: plain NATS protocol over /dev/tcp
    exec 3<>"/dev/tcp/127.0.0.1/$NATS_PORT"
    local line subject payload
    read -r -t 5 line <&3
    printf 'CONNECT {"verbose":false,"pedantic":false,"name":"taskflow-chaos"}\r\n' >&3
    while read -r subject payload; do printf 'PUB %s %d\r\n%s\r\n' "$subject" "${#payload}" "$payload" >&3; done <"$1"
    printf 'PING\r\n' >&3
    while read -r -t 10 line <&3; do [[ "$line" == PONG* ]] && break; done
    exec 3>&-
}

# A three-node JetStream cluster on loopback for the nats-cluster scenario. Node i (0-2) is named
# chaos-n$((i+1)) and keeps its data under $CLUSTER_DIR, so a restarted node catches up from it.
CLUSTER_DIR="$TASKFLOW_DATA/cluster"
CLUSTER_URL="nats://127.0.0.1:14331,nats://127.0.0.1:14332,nats://127.0.0.1:14333"
start_node() {  # start_node INDEX
    local i=$1
    mkdir -p "$CLUSTER_DIR/n$i"
    "${NATS_SERVER_BIN:-nats-server}" -js -a 127.0.0.1 -p $((14331 + i)) -m $((18331 + i)) -sd "$CLUSTER_DIR/n$i" \
        -n "chaos-n$((i + 1))" --cluster_name taskflow-chaos --cluster "nats://127.0.0.1:$((16331 + i))" \
        --routes nats://127.0.0.1:16331,nats://127.0.0.1:16332,nats://127.0.0.1:16333 \
        >>"$CLUSTER_DIR/n$i.log" 2>&1 &
    cluster_pids[$i]=$!
}
wait_cluster() {  # every node up, JetStream meta leader known, its replicas current (/healthz)
    for _ in $(seq 1 300); do
        local healthy=1
        for i in 0 1 2; do curl -fs "http://127.0.0.1:$((18331 + i))/healthz" >/dev/null 2>&1 || healthy=0; done
        [ "$healthy" = 1 ] && return 0
        sleep 0.2
    done
    log "the NATS cluster did not become healthy"; return 1
}
stop_cluster() {
    for i in 0 1 2; do
        [ "${cluster_pids[$i]}" != 0 ] && { kill -TERM "${cluster_pids[$i]}" 2>/dev/null || true; wait "${cluster_pids[$i]}" 2>/dev/null || true; }
        cluster_pids[$i]=0
    done
}
stream_leader() {  # the work stream's leader as js-info reports it; empty while none is elected
    local leader=""
    for _ in $(seq 1 50); do
        leader=$("$BIN/js-info" show --server "$NATS_URL" --stream "${SCHEMA^^}" --json 2>/dev/null | jq -r '.stream.leader // empty') || leader=""
        [ -n "$leader" ] && break
        sleep 0.2
    done
    echo "$leader"
}

fault() {  # fault SCENARIO, applied while tasks are being submitted
    case "$1" in
        worker-kill)
            for _ in 1 2 3 4 5; do
                sleep 2
                local victim=$((RANDOM % 3))
                kill -9 "${worker_pids[$victim]}" 2>/dev/null || true
                wait "${worker_pids[$victim]}" 2>/dev/null || true
                start_worker "$victim"
            done ;;
        nats-restart)
            sleep 2; scripts/services.sh stop-nats >/dev/null 2>&1; sleep 5; scripts/services.sh start-nats >/dev/null 2>&1 ;;
        postgres-restart)
            sleep 2; scripts/services.sh stop-postgres >/dev/null 2>&1
            local code
            code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' --data '{"type":"demo"}' "$API/api/v1/tasks") || code=000
            echo "$code" >"$RUN/api-during-outage"
            sleep 5; scripts/services.sh start-postgres >/dev/null 2>&1 ;;
        drain)
            sleep 2
            local started=$SECONDS bad=0
            for i in 0 1 2; do kill -TERM "${worker_pids[$i]}"; done
            for i in 0 1 2; do wait "${worker_pids[$i]}" || bad=1; done
            [ $((SECONDS - started)) -le $((SHUTDOWN_TIMEOUT + 5)) ] || bad=1
            echo "$bad" >"$RUN/drain-bad"
            for i in 0 1 2; do start_worker "$i"; done ;;
        nats-cluster)
            # Kill -9 the stream's leader under load; 5 s later bring it back and wait until its
            # replicas have caught up. Records which node led before and after.
            sleep 2
            local leader victim
            leader=$(stream_leader)
            [ -n "$leader" ] || { echo "no stream leader found" >"$RUN/leaders-bad"; return 0; }
            victim=$((${leader#chaos-n} - 1))
            kill -9 "${cluster_pids[$victim]}"; wait "${cluster_pids[$victim]}" 2>/dev/null || true
            sleep 5
            echo "$leader killed, $(stream_leader) led, $leader back" >"$RUN/leaders"
            start_node "$victim"
            wait_cluster ;;
        schedules)
            # A schedule fires every second for 30 s while one worker is killed -9 (and started
            # again 2 s later) and another is restarted; then it is paused, so the fires are counted
            # over a fixed span.
            local started=$SECONDS
            sleep 5
            kill -9 "${worker_pids[0]}"; wait "${worker_pids[0]}" 2>/dev/null || true
            sleep 2; start_worker 0
            sleep 5
            kill -TERM "${worker_pids[1]}"; wait "${worker_pids[1]}" 2>/dev/null || true
            start_worker 1
            while [ $((SECONDS - started)) -lt 30 ]; do sleep 1; done
            curl -fs -X POST "$API/api/v1/schedules/chaos-tick/pause" >/dev/null || echo "pause failed" >"$RUN/schedule-bad" ;;
        limits)
            # Limits set before the workers started (see below); one worker killed -9 under load
            # and started again, so slots held by a dead worker's tasks come back by takeover.
            sleep 4
            kill -9 "${worker_pids[2]}"; wait "${worker_pids[2]}" 2>/dev/null || true
            sleep 1; start_worker 2 ;;
        cancel)
            # Twenty 20-second sleep tasks besides the mix, then a bulk cancel of every sleep task
            # so far (waiting ones cancelled, running ones asked to stop), and one worker killed
            # -9 at once, before it can act on the requests for the tasks it runs.
            for _ in $(seq 1 20); do
                curl -fs -X POST -H 'content-type: application/json' --data '{"type":"sleep","payload":{"ms":20000}}' \
                    "$API/api/v1/tasks" >/dev/null || echo "long task not created" >"$RUN/cancel-bad"
            done
            sleep 3
            curl -fs -X POST -H 'content-type: application/json' --data '{"type":"sleep"}' "$API/api/v1/tasks/cancel" >"$RUN/bulk-cancel" \
                || echo "bulk cancel failed" >"$RUN/cancel-bad"
            kill -9 "${worker_pids[0]}"; wait "${worker_pids[0]}" 2>/dev/null || true
            sleep 1; start_worker 0 ;;
        duplicates|poison) ;;
    esac
}

after_submit() {  # after_submit SCENARIO: faults that need the submitted tasks
    case "$1" in
        duplicates)
            psql -qtAX "$DATABASE_URL" -c "SET search_path TO $SCHEMA" \
                -c "SELECT '$PREFIX.' || priority || ' ' || id FROM tasks, generate_series(1, 3)" >"$RUN/dups"
            publish_raw "$RUN/dups" ;;
        poison)
            : >"$RUN/poison"
            for i in $(seq 1 100); do
                case $((i % 4)) in
                    0) echo "$PREFIX.high not-a-task-$i" ;;
                    1) echo "$PREFIX.normal {\"id\":$i}" ;;
                    2) echo "$PREFIX.low $(cat /proc/sys/kernel/random/uuid)" ;;
                    3) echo "$PREFIX.normal 12345678-zzzz-$i" ;;
                esac >>"$RUN/poison"
            done
            publish_raw "$RUN/poison" ;;
    esac
}

failures=0
rows=()
for scenario in $SCENARIOS; do
    RUN="$TASKFLOW_DATA/run-$scenario"
    rm -rf "$RUN"; mkdir -p "$RUN"
    SCHEMA="chaos_${scenario//-/_}_$RANDOM"
    PREFIX="$SCHEMA"
    export DATABASE_SCHEMA="$SCHEMA" NATS_STREAM_NAME="${SCHEMA^^}" NATS_SUBJECT_PREFIX="$PREFIX" NATS_CONSUMER_NAME="$SCHEMA"
    export TASK_LEASE=5s WORKER_LOST_AFTER=20s WORKER_BACKOFF_BASE=200ms WORKER_BACKOFF_MAX=2s LOG_FORMAT=text LOG_LEVEL=warning
    export NATS_URL="$SINGLE_NATS_URL" NATS_REPLICAS=1
    if [ "$scenario" = nats-cluster ]; then
        rm -rf "$CLUSTER_DIR"
        for i in 0 1 2; do start_node "$i"; done
        wait_cluster
        export NATS_URL="$CLUSTER_URL" NATS_REPLICAS=3
    fi
    log "scenario $scenario: $TASKS tasks, 3 workers"
    start_api
    if [ "$scenario" = limits ]; then
        # At most 3 sleep tasks running fleet-wide; at most 40 attempts of fail tasks a second.
        curl -fs -X PUT -H 'content-type: application/json' --data '{"concurrency":3}' "$API/api/v1/types/sleep/limits" >/dev/null \
            && curl -fs -X PUT -H 'content-type: application/json' --data '{"rate":{"count":40,"per_seconds":1}}' \
                "$API/api/v1/types/fail/limits" >/dev/null || echo "setting limits failed" >"$RUN/limits-bad"
    fi
    for i in 0 1 2; do start_worker "$i"; done
    if [ "$scenario" = schedules ]; then
        curl -fs -X POST -H 'content-type: application/json' --data '{"name":"chaos-tick","cron":"@every 1s","type":"demo"}' \
            "$API/api/v1/schedules" >/dev/null || echo "create failed" >"$RUN/schedule-bad"
    fi
    submit &
    submitter=$!
    fault "$scenario"
    wait "$submitter"
    after_submit "$scenario"
    drain_seconds=$(wait_drained 180)

    accepted=$(cat "$RUN/accepted")
    total=$(sql "SELECT count(*) FROM tasks WHERE type <> 'probe'")
    completed=$(sql "SELECT count(*) FROM tasks WHERE status = 'completed'")
    failed_expected=$(sql "SELECT count(*) FROM tasks WHERE status = 'failed' AND type = 'dead'")
    failed_other=$(sql "SELECT count(*) FROM tasks WHERE status = 'failed' AND type <> 'dead'")
    stuck=$(sql "SELECT count(*) FROM tasks WHERE status IN ('scheduled','queued','running','retrying')")
    gaps=$(sql "SELECT count(*) FROM (SELECT t.id FROM tasks t JOIN task_executions e ON e.task_id = t.id GROUP BY t.id, t.attempts HAVING count(*) <> max(e.attempt) OR max(e.attempt) <> t.attempts) x")
    multi=$(sql "SELECT count(*) FROM (SELECT task_id FROM task_executions WHERE status = 'succeeded' GROUP BY task_id HAVING count(*) > 1) x")
    open_attempts=$(sql "SELECT count(*) FROM task_executions WHERE status = 'started'")
    # A worker killed after its handler finished but before the outcome was committed makes the
    # task run again (at-least-once; its history shows the abandoned attempt). Any other second
    # success is a double completion.
    doubles=0
    reruns=0
    while read -r runs id; do
        abandoned=$(sql "SELECT count(*) FROM task_executions WHERE task_id = '$id' AND error LIKE 'attempt abandoned%'")
        if [ $((runs - 1)) -le "$abandoned" ]; then reruns=$((reruns + runs - 1)); else doubles=$((doubles + 1)); fi
    done < <(sort "$RUN/success.log" 2>/dev/null | uniq -c | awk '$1 > 1 {print $1, $2}')
    lost=$((accepted > total ? accepted - total : 0))
    dead_ids=$(sql "SELECT count(*) FROM tasks WHERE status = 'failed'")
    letters=$("$BIN/js-info" dlq --server "$NATS_URL" --stream "${SCHEMA^^}" --json --limit 10000 | jq 'map(.task_id) | unique | length')
    missing_letters=$((dead_ids > letters ? dead_ids - letters : 0))
    extra=""
    [ -f "$RUN/api-during-outage" ] && extra=" api-during-outage=$(cat "$RUN/api-during-outage")"
    [ -f "$RUN/drain-bad" ] && [ "$(cat "$RUN/drain-bad")" != 0 ] && extra="$extra drain-exit-or-time-wrong"
    [ -f "$RUN/leaders" ] && extra="$extra ($(cat "$RUN/leaders"))"
    [ -f "$RUN/leaders-bad" ] && extra="$extra $(cat "$RUN/leaders-bad")"
    if [ "$scenario" = schedules ]; then
        # Exactly one task per fire time, none without a fire, and no second skipped.
        fires=$(sql "SELECT count(*) FROM schedule_fires WHERE NOT manual")
        fires_off=$(sql "SELECT count(*) FROM (SELECT f.fire_at FROM schedule_fires f LEFT JOIN tasks t ON t.id = f.task_id AND t.schedule = f.schedule GROUP BY f.fire_at HAVING count(t.id) <> 1) x")
        schedule_tasks=$(sql "SELECT count(*) FROM tasks WHERE schedule = 'chaos-tick'")
        fire_gaps=$(sql "SELECT count(*) FROM (SELECT fire_at - lag(fire_at) OVER (ORDER BY fire_at) AS d FROM schedule_fires WHERE NOT manual) x WHERE d > interval '1 second'")
        extra="$extra fires=$fires fires-without-one-task=$fires_off schedule-tasks=$schedule_tasks gaps=$fire_gaps"
        if [ "$fires" -lt 25 ] || [ "$fires_off" != 0 ] || [ "$schedule_tasks" != "$fires" ] || [ "$fire_gaps" != 0 ]; then
            echo "schedule invariants broken" >>"$RUN/schedule-bad"
        fi
        [ -f "$RUN/schedule-bad" ] && extra="$extra $(tr '\n' ' ' <"$RUN/schedule-bad")"
    fi

    if [ "$scenario" = limits ]; then
        # Attempts as recorded: overlapping sleep attempts at any start, fail attempts started in
        # any one-second window.
        overlap=$(sql "WITH x AS (SELECT e.started_at, e.finished_at FROM task_executions e JOIN tasks t ON t.id = e.task_id WHERE t.type = 'sleep')
            SELECT coalesce(max((SELECT count(*) FROM x b WHERE b.started_at <= a.started_at AND b.finished_at > a.started_at)), 0) FROM x a")
        per_second=$(sql "WITH x AS (SELECT e.started_at FROM task_executions e JOIN tasks t ON t.id = e.task_id WHERE t.type = 'fail')
            SELECT coalesce(max((SELECT count(*) FROM x b WHERE b.started_at >= a.started_at AND b.started_at < a.started_at + interval '1 second')), 0) FROM x a")
        extra="$extra sleep-running-at-most=$overlap/3 fail-starts-per-second-at-most=$per_second/40"
        if [ "$overlap" -gt 3 ] || [ "$overlap" -lt 2 ] || [ "$per_second" -gt 40 ]; then echo "limit exceeded or unused" >>"$RUN/limits-bad"; fi
        [ -f "$RUN/limits-bad" ] && extra="$extra $(tr '\n' ' ' <"$RUN/limits-bad")"
    fi
    if [ "$scenario" = cancel ]; then
        # Every task a cancel reached ended cancelled; the running ones' attempts say so.
        bulk=$(jq -c . "$RUN/bulk-cancel" 2>/dev/null || echo none)
        requested=$(sql "SELECT count(*) FROM tasks WHERE cancel_requested_at IS NOT NULL")
        not_cancelled=$(sql "SELECT count(*) FROM tasks WHERE cancel_requested_at IS NOT NULL AND status <> 'cancelled'")
        cancelled_attempts=$(sql "SELECT count(*) FROM task_executions WHERE status = 'cancelled'")
        by_claim=$(sql "SELECT count(*) FROM task_executions WHERE status = 'cancelled' AND error LIKE '%stopped before it acted%'")
        extra="$extra bulk=$bulk cancel-requested=$requested not-cancelled=$not_cancelled cancelled-attempts=$cancelled_attempts (by a later claim: $by_claim)"
        if [ "$requested" = 0 ] || [ "$not_cancelled" != 0 ] || [ "$cancelled_attempts" != "$requested" ]; then echo "cancel invariants broken" >>"$RUN/cancel-bad"; fi
        [ -f "$RUN/cancel-bad" ] && extra="$extra $(tr '\n' ' ' <"$RUN/cancel-bad")"
    fi

    ok=1
    [ "$accepted" = "$TASKS" ] || ok=0
    for value in $lost $failed_other $stuck $gaps $multi $open_attempts $doubles $missing_letters; do [ "$value" = 0 ] || ok=0; done
    [ "$drain_seconds" = timeout ] && ok=0
    [[ "$extra" == *drain-exit-or-time-wrong* ]] && ok=0
    [ -f "$RUN/leaders-bad" ] && ok=0
    [ -f "$RUN/schedule-bad" ] && ok=0
    [ -f "$RUN/limits-bad" ] && ok=0
    [ -f "$RUN/cancel-bad" ] && ok=0
    [ -f "$RUN/api-during-outage" ] && [ "$(cat "$RUN/api-during-outage")" != 503 ] && ok=0
    [ "$ok" = 1 ] || failures=$((failures + 1))
    rows+=("| $scenario | $accepted | $completed | $failed_expected | $lost | $stuck | $doubles | $reruns | $multi | $gaps | $open_attempts | $missing_letters | ${drain_seconds}s | $([ "$ok" = 1 ] && echo pass || echo FAIL)$extra |")

    for pid in "${worker_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${worker_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    kill -TERM "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true
    worker_pids=(0 0 0); api_pid=""
    if [ "$scenario" = nats-cluster ]; then stop_cluster; fi
done

echo
echo "| scenario | tasks | completed | failed as expected | lost | stuck | double completions | re-runs after a lost attempt | double successes (db) | attempt gaps | open attempts | missing dead letters | time to drain | result |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
[ "$failures" = 0 ]
