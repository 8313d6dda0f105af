#!/usr/bin/env bash
# Federated PM throughput between two local servers (127.0.0.2 and 127.0.0.3,
# one port): starts both with BIN, runs fed-pm.py, stops them.
# Usage: BIN=target/release/dmconnect bench/fed-pm.sh [SENDERS] [MESSAGES] [WINDOW]
#        EXTRA='dialback_rate_per_ip = 0' ... adds lines to [federation] (e.g. to lift limits).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${BIN:=$(dirname "$HERE")/target/release/dmconnect}"
: "${PORT:=42539}"
: "${EXTRA:=}"
DIR=$(mktemp -d)
trap 'kill $PA $PB 2>/dev/null || true; [ -n "${KEEP:-}" ] && cp "$DIR"/*.log /tmp/ ; rm -rf "$DIR"' EXIT
for ip in 127.0.0.2 127.0.0.3; do
    cat > "$DIR/$ip.toml" <<TOML
[server]
host = "$ip"
listen = "$ip:$PORT"
encrypted_listen = ""
data_dir = "$DIR/data-$ip"
[auth]
argon2_memory_kib = 8
argon2_iterations = 1
[limits]
max_connections_per_ip = 0
[federation]
peer_port = $PORT
$EXTRA
[capabilities]
enabled = []
TOML
done
RUST_LOG=${RUST_LOG:-warn} "$BIN" serve --config "$DIR/127.0.0.2.toml" > "$DIR/a.log" 2>&1 & PA=$!
RUST_LOG=${RUST_LOG:-warn} "$BIN" serve --config "$DIR/127.0.0.3.toml" > "$DIR/b.log" 2>&1 & PB=$!
sleep 1
python3 "$HERE/fed-pm.py" 127.0.0.2 "$PORT" 127.0.0.3 "$PORT" "$@"
