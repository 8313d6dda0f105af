#!/usr/bin/env bash
# Throwaway PostgreSQL + NATS (JetStream) for cluster mode tests and trials.
#
#   scripts/cluster-services.sh start DIR        install if missing, start both, write DIR/env
#   scripts/cluster-services.sh stop DIR         stop both (DIR is left for inspection)
#   scripts/cluster-services.sh restart-nats DIR stop NATS and start it again on the same port
#   scripts/cluster-services.sh stop-pg DIR      stop PostgreSQL only (outage tests)
#   scripts/cluster-services.sh start-pg DIR     start it again on the same port
#
# DIR/env exports DMC_PG_URL, DMC_NATS_URL and DMC_CLUSTER_DIR; `source` it.
# Both listen on 127.0.0.1 only, PostgreSQL with trust auth: never use this in production.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|restart-nats|stop-pg|start-pg DIR" >&2; exit 2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

install_missing() {
    local pkgs=()
    [ -n "$(pg_bin)" ] || pkgs+=(postgresql)
    command -v nats-server >/dev/null || pkgs+=(nats-server)
    if [ ${#pkgs[@]} -gt 0 ]; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
    fi
}

# A port nobody listens on (bash's /dev/tcp: a refused connect means free).
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    echo "no free port found" >&2
    return 1
}

# PostgreSQL refuses to run as root: run it as the `postgres` user then.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_nats() {
    local port=$1
    mkdir -p "$dir/nats"
    setsid nats-server -js -a 127.0.0.1 -p "$port" -sd "$dir/nats" -P "$dir/nats.pid" -l "$dir/nats.log" \
        </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nats-server did not start; see $dir/nats.log" >&2
    return 1
}

start_pg() {
    local port=$1
    # fsync off: a throwaway test database, speed matters more than surviving a power cut.
    as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/pg -c fsync=off -c max_connections=300" start >/dev/null
}

stop_pg() {
    if [ -f "$dir/pg/data/postmaster.pid" ]; then as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null || true; fi
}

stop_nats() {
    [ -f "$dir/nats.pid" ] || return 0
    local pid
    pid=$(cat "$dir/nats.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$dir/nats.pid"
}

case "$cmd" in
start)
    install_missing
    mkdir -p "$dir/pg"
    dir=$(cd "$dir" && pwd)
    bin=$(pg_bin)
    [ "$(id -u)" = 0 ] && chown postgres "$dir/pg"
    pg_port=$(free_port)
    as_pg "$bin/initdb" -D "$dir/pg/data" -A trust -U dmc -E UTF8 --locale=C >"$dir/pg/initdb.log"
    start_pg "$pg_port"
    echo "$pg_port" >"$dir/pg.port"
    nats_port=$(free_port)
    start_nats "$nats_port"
    cat >"$dir/env" <<ENV
export DMC_PG_URL=postgres://dmc@127.0.0.1:$pg_port/postgres
export DMC_NATS_URL=nats://127.0.0.1:$nats_port
export DMC_CLUSTER_DIR=$dir
ENV
    echo "$nats_port" >"$dir/nats.port"
    cat "$dir/env"
    ;;
stop)
    stop_pg
    stop_nats
    ;;
stop-pg)
    stop_pg
    ;;
start-pg)
    dir=$(cd "$dir" && pwd)
    start_pg "$(cat "$dir/pg.port")"
    ;;
restart-nats)
    stop_nats
    start_nats "$(cat "$dir/nats.port")"
    ;;
*)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
