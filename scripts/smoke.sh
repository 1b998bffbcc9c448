#!/usr/bin/env bash
# End-to-end check against a running TaskFlow stack (scripts/run.sh). Needs curl and jq.
#   API (http://127.0.0.1:8080), NATS_URL (nats://127.0.0.1:14222, for the duplicate check),
#   JS_INFO (path to js-info; default: the release build), API_TOKEN (when auth is on)
set -euo pipefail
API="${API:-http://127.0.0.1:8080}"
NATS_URL="${NATS_URL:-nats://127.0.0.1:14222}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JS_INFO="${JS_INFO:-$ROOT/.build/release/js-info}"
AUTH=()
[ -n "${API_TOKEN:-}" ] && AUTH=(-H "Authorization: Bearer ${API_TOKEN%%,*}")

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'SMOKE FAILED: %s\n' "$*" >&2; exit 1; }
ok() { printf '   ok: %s\n' "$*"; }

# request METHOD PATH [BODY] [extra curl args...] -> prints body; HTTP status in $STATUS
request() {
    local method=$1 path=$2 body=${3:-}
    shift 3 || shift $#
    local out
    if [ -n "$body" ]; then
        out=$(curl -s -w '\n%{http_code}' -X "$method" "${AUTH[@]}" -H 'content-type: application/json' "$@" --data "$body" "$API$path") || fail "$method $path: curl failed"
    else
        out=$(curl -s -w '\n%{http_code}' -X "$method" "${AUTH[@]}" "$@" "$API$path") || fail "$method $path: curl failed"
    fi
    STATUS=$(tail -n1 <<<"$out")
    BODY=$(sed '$d' <<<"$out")
}

create() {  # create JSON [expected-status] -> sets ID
    request POST /api/v1/tasks "$1" "${@:3}"
    [ "$STATUS" = "${2:-201}" ] || fail "POST $1 answered $STATUS: $BODY"
    ID=$(jq -r .id <<<"$BODY")
}

wait_status() {  # wait_status ID STATUS [seconds]
    local id=$1 want=$2 deadline=$((SECONDS + ${3:-30})) got=""
    while [ $SECONDS -lt $deadline ]; do
        request GET "/api/v1/tasks/$id"
        got=$(jq -r .status <<<"$BODY")
        [ "$got" = "$want" ] && return 0
        sleep 0.2
    done
    fail "task $id is $got after ${3:-30}s, expected $want: $BODY"
}

executions() {  # executions ID -> sets EXECS (JSON array)
    request GET "/api/v1/tasks/$1/executions"
    [ "$STATUS" = 200 ] || fail "executions of $1 answered $STATUS"
    EXECS=$(jq -c .executions <<<"$BODY")
}

# Publishes a raw message with a plain NATS client over bash's /dev/tcp (JetStream stores it).
nats_publish() {  # nats_publish SUBJECT DATA COUNT
    local hostport=${NATS_URL#*://}
    hostport=${hostport##*@}
    hostport=${hostport%%,*}
    local host=${hostport%%:*} port=${hostport##*:}
    exec 3<>"/dev/tcp/$host/$port" || fail "cannot reach NATS at $host:$port"
    local line
    read -r -t 5 line <&3 || fail "no INFO from NATS"
    printf 'CONNECT {"verbose":false,"pedantic":false,"name":"taskflow-smoke"}\r\n' >&3
    for _ in $(seq 1 "$3"); do printf 'PUB %s %d\r\n%s\r\n' "$1" "${#2}" "$2" >&3; done
    printf 'PING\r\n' >&3
    while read -r -t 5 line <&3; do [[ "$line" == PONG* ]] && break; [[ "$line" == -ERR* ]] && fail "NATS: $line"; done
    exec 3>&-
}

step "health and readiness"
request GET /api/v1/health; [ "$STATUS" = 200 ] || fail "health answered $STATUS"
request GET /api/v1/ready; [ "$STATUS" = 200 ] || fail "ready answered $STATUS: $BODY"
ok "API healthy and ready"

step "demo task completes with exactly one execution"
create '{"type":"demo","payload":{"smoke":true}}'
DEMO=$ID
wait_status "$DEMO" completed
executions "$DEMO"
[ "$(jq length <<<"$EXECS")" = 1 ] || fail "demo has $(jq length <<<"$EXECS") executions"
[ "$(jq -r '.[0].status' <<<"$EXECS")" = succeeded ] || fail "demo execution: $EXECS"
ok "demo $DEMO completed"

step "fail with times 2 completes at attempt 3"
create '{"type":"fail","payload":{"times":2}}'
FLAKY=$ID
wait_status "$FLAKY" completed 60
request GET "/api/v1/tasks/$FLAKY"
[ "$(jq .attempts <<<"$BODY")" = 3 ] || fail "fail task took $(jq .attempts <<<"$BODY") attempts"
executions "$FLAKY"
[ "$(jq -c '[.[].status]' <<<"$EXECS")" = '["failed","failed","succeeded"]' ] || fail "fail executions: $EXECS"
ok "three executions, two failed"

step "dead task fails and its dead letter is visible"
create '{"type":"dead","priority":"high"}'
DEAD=$ID
wait_status "$DEAD" failed
found=""
for _ in $(seq 1 50); do
    if "$JS_INFO" dlq --server "$NATS_URL" --json --limit 200 | jq -e --arg id "$DEAD" 'any(.[]; .task_id == $id)' >/dev/null; then found=1; break; fi
    sleep 0.2
done
[ -n "$found" ] || fail "no dead letter for $DEAD in js-info dlq"
ok "dead letter for $DEAD on the DLQ stream"

step "unknown type fails with a clear error"
create '{"type":"no.such.type"}'
wait_status "$ID" failed
request GET "/api/v1/tasks/$ID"
jq -e '.last_error | contains("no handler registered for type no.such.type")' <<<"$BODY" >/dev/null || fail "last_error: $(jq .last_error <<<"$BODY")"
ok "no handler registered"

step "the same id published 20 more times still runs once"
nats_publish tasks.normal "$DEMO" 20
sleep 3
executions "$DEMO"
[ "$(jq length <<<"$EXECS")" = 1 ] || fail "demo now has $(jq length <<<"$EXECS") executions"
request GET "/api/v1/tasks/$DEMO"; [ "$(jq -r .status <<<"$BODY")" = completed ] || fail "demo is $(jq -r .status <<<"$BODY")"
ok "still one execution"

step "idempotency key returns the same task"
KEY="smoke-$RANDOM-$RANDOM"
create '{"type":"demo","payload":{"n":1}}' 201 -H "Idempotency-Key: $KEY"
FIRST=$ID
create '{"type":"demo","payload":{"n":1}}' 200 -H "Idempotency-Key: $KEY"
[ "$ID" = "$FIRST" ] || fail "second create returned $ID, not $FIRST"
request POST /api/v1/tasks '{"type":"demo","payload":{"n":2}}' -H "Idempotency-Key: $KEY"
[ "$STATUS" = 409 ] || fail "a different body with the same key answered $STATUS"
ok "same id; a different body is a conflict"

step "a delayed task cancelled before it runs never runs"
create '{"type":"demo","delay_seconds":30}'
LATER=$ID
[ "$(jq -r .status <<<"$BODY")" = scheduled ] || fail "delayed task is $(jq -r .status <<<"$BODY")"
request POST "/api/v1/tasks/$LATER/cancel"; [ "$STATUS" = 200 ] || fail "cancel answered $STATUS"
sleep 1
request GET "/api/v1/tasks/$LATER"; [ "$(jq -r .status <<<"$BODY")" = cancelled ] || fail "cancelled task is $(jq -r .status <<<"$BODY")"
executions "$LATER"; [ "$(jq length <<<"$EXECS")" = 0 ] || fail "cancelled task ran"
ok "cancelled, no execution"

step "a failed task retried runs again"
create '{"type":"fail","payload":{"times":1},"max_attempts":1}'
REPLAY=$ID
wait_status "$REPLAY" failed
request POST "/api/v1/tasks/$REPLAY/retry"; [ "$STATUS" = 200 ] || fail "retry answered $STATUS: $BODY"
wait_status "$REPLAY" completed
executions "$REPLAY"
[ "$(jq -c '[.[].status]' <<<"$EXECS")" = '["failed","succeeded"]' ] || fail "retried executions: $EXECS"
ok "retried and completed"

step "a schedule fires every second and its tasks complete"
SCHEDULE="smoke-tick-$RANDOM"
request POST /api/v1/schedules "{\"name\":\"$SCHEDULE\",\"cron\":\"@every 1s\",\"type\":\"demo\",\"payload\":{\"from\":\"schedule\"}}"
[ "$STATUS" = 201 ] || fail "create schedule answered $STATUS: $BODY"
request POST /api/v1/schedules "{\"name\":\"$SCHEDULE\",\"cron\":\"@daily\",\"type\":\"demo\"}"
[ "$STATUS" = 409 ] || fail "a taken name answered $STATUS"
request POST /api/v1/schedules '{"name":"bad","cron":"61 * * * *","type":"demo"}'
[ "$STATUS" = 400 ] && [ "$(jq -r .error.field <<<"$BODY")" = cron ] || fail "a bad expression answered $STATUS: $BODY"
fired=""
for _ in $(seq 1 40); do
    request GET "/api/v1/schedules/$SCHEDULE"
    fired=$(jq -r '.last_fires[1].task_id // empty' <<<"$BODY")
    [ -n "$fired" ] && break
    sleep 0.5
done
[ -n "$fired" ] || fail "the schedule did not fire twice in 20 s: $BODY"
wait_status "$fired" completed
request GET "/api/v1/tasks/$fired"; [ "$(jq -r .schedule <<<"$BODY")" = "$SCHEDULE" ] || fail "the task does not name its schedule: $BODY"
if [ -n "${DATABASE_URL:-}" ]; then
    "$JS_INFO" schedules --server "$NATS_URL" --json | jq -e --arg name "$SCHEDULE" 'any(.[]; .name == $name and (.next_fires | length) == 5)' >/dev/null \
        || fail "js-info schedules does not show $SCHEDULE"
fi
request DELETE "/api/v1/schedules/$SCHEDULE"; [ "$STATUS" = 204 ] || fail "delete schedule answered $STATUS"
ok "fired, completed, named its schedule; deleted"

step "a paused type is held without an attempt and runs after resume"
PAUSED_TYPE="smoke.paused.$RANDOM"
request POST "/api/v1/types/$PAUSED_TYPE/pause"; [ "$STATUS" = 200 ] || fail "pause answered $STATUS: $BODY"
sleep 1.5  # workers read pauses every second
create "{\"type\":\"$PAUSED_TYPE\"}"
HELD=$ID
held=""
for _ in $(seq 1 40); do
    request GET /api/v1/stats
    [ "$(jq -r '.paused.held' <<<"$BODY")" -ge 1 ] && { held=1; break; }
    sleep 0.25
done
[ -n "$held" ] || fail "the task of a paused type was not held: $BODY"
request GET "/api/v1/tasks/$HELD"
[ "$(jq -r '.status + " " + (.attempts|tostring)' <<<"$BODY")" = "queued 0" ] || fail "held task: $BODY"
request POST "/api/v1/types/$PAUSED_TYPE/resume"; [ "$STATUS" = 200 ] || fail "resume answered $STATUS: $BODY"
[ "$(jq -r .released <<<"$BODY")" = 1 ] || fail "resume released: $BODY"
# No handler is registered for this type: once released it runs and fails as unknown, which proves it ran.
wait_status "$HELD" failed
ok "held at 0 attempts, released and run after resume"

step "a running task is cancelled on request within a second and not retried"
create '{"type":"sleep","payload":{"ms":30000}}'
RUNNING=$ID
wait_status "$RUNNING" running
request POST "/api/v1/tasks/$RUNNING/cancel"
[ "$STATUS" = 202 ] && [ "$(jq -r .state <<<"$BODY")" = "cancel requested" ] || fail "cancel of a running task answered $STATUS: $BODY"
wait_status "$RUNNING" cancelled
request GET "/api/v1/tasks/$RUNNING/executions"
[ "$(jq -r '[.executions[].status] | join(",")' <<<"$BODY")" = cancelled ] || fail "the attempt is not recorded as cancelled: $BODY"
ok "202 cancel requested, then cancelled with its attempt"

step "a fleet-wide concurrency limit holds the rest and releases them as slots free"
LIMITED_TYPE=sleep
request PUT "/api/v1/types/$LIMITED_TYPE/limits" '{"concurrency":1}'
[ "$STATUS" = 200 ] && [ "$(jq -r .concurrency <<<"$BODY")" = 1 ] || fail "set limits answered $STATUS: $BODY"
request PUT "/api/v1/types/$LIMITED_TYPE/limits" '{"concurrency":0}'
[ "$STATUS" = 400 ] && [ "$(jq -r .error.field <<<"$BODY")" = concurrency ] || fail "a bad limit answered $STATUS: $BODY"
sleep 1.5  # workers read which types have limits every second
LIMITED=()
for _ in 1 2 3; do create '{"type":"sleep","payload":{"ms":700}}'; LIMITED+=("$ID"); done
most=0
for _ in $(seq 1 40); do
    request GET "/api/v1/types/$LIMITED_TYPE/limits"
    running=$(jq -r .running <<<"$BODY"); [ "$running" -gt "$most" ] && most=$running
    done_count=0
    for id in "${LIMITED[@]}"; do
        request GET "/api/v1/tasks/$id"; [ "$(jq -r .status <<<"$BODY")" = completed ] && done_count=$((done_count + 1))
    done
    [ "$done_count" = 3 ] && break
    sleep 0.1
done
[ "$done_count" = 3 ] || fail "limited tasks did not all complete"
[ "$most" -le 1 ] || fail "$most ran at once under a limit of 1"
if [ -n "${DATABASE_URL:-}" ]; then
    "$JS_INFO" limits --server "$NATS_URL" --json | jq -e --arg type "$LIMITED_TYPE" 'any(.[]; .type == $type and .concurrency == 1)' >/dev/null \
        || fail "js-info limits does not show the limit on $LIMITED_TYPE"
fi
request DELETE "/api/v1/types/$LIMITED_TYPE/limits"; [ "$STATUS" = 204 ] || fail "lifting the limit answered $STATUS"
ok "3 tasks ran one at a time (at most $most running when sampled); limit lifted"

if [ -n "${DATABASE_URL:-}" ]; then
    # The limited tasks just started; the next heartbeat (every 5 s) carries them.
    seen=0
    for _ in $(seq 1 30); do
        if "$JS_INFO" workers --server "$NATS_URL" --json \
            | jq -e '(.workers | any(.online and (.types | index("demo")))) and .start_latency.samples > 0' >/dev/null; then
            seen=1
            break
        fi
        sleep 0.5
    done
    [ "$seen" = 1 ] || fail "js-info workers shows no online worker handling demo, or no starts in the last minute"
    ok "js-info workers: online workers with their types and the last minute's start latency"
fi

step "bad input gets a clear error"
request POST /api/v1/tasks '{"type":'; [ "$STATUS" = 400 ] || fail "malformed JSON answered $STATUS"
request GET /api/v1/tasks/not-a-uuid; [ "$STATUS" = 400 ] || fail "bad id answered $STATUS"
ok "400s"

printf '\nSMOKE PASSED\n'
