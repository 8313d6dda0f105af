#!/usr/bin/env bash
# A local cluster for trying cluster mode: PostgreSQL + NATS (scripts/cluster-services.sh)
# and N nodes of host `cluster.local` on 127.0.0.1 … 127.0.0.N, port 42439.
#
#   scripts/local-cluster.sh start DIR [N]   (N = 3; build first: cargo build --workspace)
#   scripts/local-cluster.sh stop DIR
#
# Then e.g. `nc 127.0.0.1 42439` and `nc 127.0.0.2 42439`: one host, two doors.
# DMC_EXTRA_TOML is appended to every node's config (e.g. a cheaper [auth] for benchmarks).
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-}
dir=${2:-}
n=${3:-3}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [N]" >&2; exit 2; }
bin=${DMCONNECT:-target/debug/dmconnect}

case "$cmd" in
start)
    [ -x "$bin" ] || { echo "$bin missing: cargo build --workspace first" >&2; exit 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    scripts/cluster-services.sh start "$dir/services" >/dev/null
    # shellcheck disable=SC1091
    source "$dir/services/env"
    for i in $(seq 1 "$n"); do
        mkdir -p "$dir/node$i"
        cat >"$dir/node$i/dmconnect.toml" <<TOML
[server]
host = "cluster.local"
listen = "127.0.0.$i:42439"
encrypted_listen = ""
data_dir = "$dir/node$i/data"
[capabilities]
dir = "$(cd "$(dirname "$bin")" && pwd)"
[cluster]
enabled = true
node_id = "node$i"
postgres_url = "$DMC_PG_URL"
nats_url = "$DMC_NATS_URL"
${DMC_EXTRA_TOML:-}
TOML
        setsid "$bin" serve --config "$dir/node$i/dmconnect.toml" </dev/null >"$dir/node$i/log" 2>&1 &
        echo $! >"$dir/node$i/pid"
        echo "node$i: 127.0.0.$i:42439 (log $dir/node$i/log)"
    done
    ;;
stop)
    for pidfile in "$dir"/node*/pid; do
        [ -f "$pidfile" ] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    done
    scripts/cluster-services.sh stop "$dir/services"
    ;;
*)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
