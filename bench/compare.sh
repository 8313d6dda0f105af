#!/usr/bin/env bash
# Side-by-side benchmark: dmconnect vs ngircd vs InspIRCd on this machine, same run,
# same scenarios, same parameters. Prints one summary line per scenario and server,
# then one Markdown table with absolute numbers and ratios (dmconnect ÷ each peer).
#
# Usage: bench/compare.sh                      (defaults: a few minutes on 2 cores)
#        SCENARIOS="fanout-flat idle" bench/compare.sh
#        SERVERS="dmconnect dmconnect-ws" SCENARIOS="fanout-flat fanout-rate" bench/compare.sh
#          (dmconnect-ws: the same server, every client a WebSocket session at /ws)
#        OUT=bench/results/$(date +%F).txt bench/compare.sh
# Every parameter below can be overridden from the environment. Needs root only to
# install ngircd/inspircd from Debian when they are missing. Loopback only.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

: "${SERVERS:=dmconnect ngircd inspircd}"
: "${SCENARIOS:=fanout-flat fanout-rate idle pm login-storm slow-reader}"
: "${SETUP_CONCURRENCY:=200}"   # connections being set up at once
: "${CLIENTS:=1000}"            # fanout: members of the one room
: "${SENDERS:=10}"              # fanout: senders among them
: "${MESSAGES:=2000}"           # fanout flat out: messages per sender
: "${WINDOW:=32}"               # flat out: undelivered messages allowed per sender
: "${RATE:=500}"                # fanout-rate: messages/s into the room, all senders together
: "${RATE_MESSAGES:=500}"       # fanout-rate: messages per sender (500 x 10 at 500/s = 10 s)
: "${IDLE_SESSIONS:=10000}"     # idle: logged-in, joined sessions (rooms of 100)
: "${PAIRS:=100}"               # pm: pairs
: "${PM_MESSAGES:=5000}"        # pm: messages per side
: "${STORM_LOGINS:=2000}"       # login-storm: logins started at once
: "${STORM_RATE:=500}"          # login-storm: chat rate into the 1,000-member room
: "${SLOW_CLIENTS:=100}"        # slow-reader: room members besides the slow one
: "${SLOW_RATE:=2000}"          # slow-reader: messages/s into the room
: "${SLOW_SIZE:=400}"           # slow-reader: bytes per message (IRC lines stop at 512)
: "${SLOW_SECS:=10}"            # slow-reader: seconds the slow member does not read
: "${OUT:=}"                    # also write everything printed to this file

NG_PORT=16667
INSP_PORT=16668

if [ -n "$OUT" ]; then
    mkdir -p "$(dirname "$OUT")"
    exec > >(tee "$OUT") 2>&1
fi

need_install=()
for s in $SERVERS; do
    case $s in
        ngircd) command -v ngircd >/dev/null || need_install+=(ngircd) ;;
        inspircd) [ -x /usr/sbin/inspircd ] || need_install+=(inspircd) ;;
    esac
done
if [ ${#need_install[@]} -gt 0 ]; then
    echo "== installing ${need_install[*]} from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_install[@]}" >/dev/null
fi

echo "== building (release)"
(cd "$ROOT" && cargo build --release -q -p dmconnect -p dmconnect-bench)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DM=$TARGET/release/dmconnect
BENCH=$TARGET/release/dmbench

# Servers inherit this: 10,000 sessions need more than the usual 1,024 descriptors.
ulimit -n "$(ulimit -Hn)"

TMP=$(mktemp -d /tmp/dmbench.XXXXXX)
RESULTS=$TMP/results.jsonl
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'),"\
    "$(free -g | awk '/Mem:/{print $2}') GiB RAM, kernel $(uname -r), fd limit $(ulimit -n)"
echo "== versions: dmconnect $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?'),"\
    "ngircd $(dpkg-query -W -f='${Version}' ngircd 2>/dev/null || echo '?'),"\
    "inspircd $(dpkg-query -W -f='${Version}' inspircd 2>/dev/null || echo '?')"

# --- configurations -------------------------------------------------------------
# Every setting that differs from the package defaults is there so that the servers are
# measured, not their anti-flood policy; each one is commented.

write_dmconnect_conf() {
    cat >"$1" <<EOF
[server]
listen = "127.0.0.1:0"          # loopback, any free port (read back from the ready file)
encrypted_listen = ""           # legacy encrypted port not needed
[limits]
max_connections_per_ip = 0      # default 64: all load comes from 127.0.0.1
max_connections = 0             # default 20,000: unlimited
idle_timeout_secs = 0           # idle sessions must not be closed during the idle scenario
chat_lines_per_sec = 0          # the scenarios flood on purpose: no per-session flood control
registrations_per_ip_per_hour = 0  # every user registers from 127.0.0.1
max_rooms = 0                   # the scenarios create many rooms from few accounts
max_rooms_per_account = 0
[auth]
argon2_memory_kib = 256         # BENCHMARK ONLY: default 19 MiB x 2 passes makes 10,000
argon2_iterations = 1           #   registrations take minutes; never use this in production
[capabilities]
enabled = []                    # no plugins: core chat only, like the IRC servers
[federation]
enabled = false                 # no server-to-server traffic
EOF
}

write_ngircd_conf() {
    mkdir -p "$TMP/ngircd.d"
    cat >"$1" <<EOF
[Global]
	Name = irc.bench.local
	Info = benchmark
	Listen = 127.0.0.1
	Ports = $NG_PORT
	MotdPhrase = bench
[Limits]
	# default 5 per IP: all load comes from 127.0.0.1
	MaxConnectionsIP = 0
	MaxConnections = 0
	# default -1: 0 disables penalty delays (command throttling) altogether
	MaxPenaltyTime = 0
	# default 9; benchmark nicks are short anyway
	MaxNickLength = 30
	# no PINGs during a run
	PingTimeout = 600
	PongTimeout = 600
[Options]
	# Debian enables PAM, DNS and IDENT lookups per connection: all off (no password,
	# loopback); they would only slow down connecting, never chat
	PAM = no
	DNS = no
	Ident = no
	# empty directory instead of /etc/ngircd/ngircd.conf.d
	IncludeDir = $TMP/ngircd.d
EOF
}

write_inspircd_conf() {
    local dir=$TMP/inspircd
    mkdir -p "$dir"
    echo bench >"$dir/motd.txt"
    cat >"$1" <<EOF
<config format="xml">
<server name="irc.bench.local" description="benchmark" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="$INSP_PORT" type="clients">
# Flood and limit settings, each raised from the packaged example:
#  threshold 10 -> 1000000 and commandrate 1000 -> 1000000000 (no flood penalty),
#  fakelag yes -> no (commands are never delayed), localmax/globalmax 3 -> 100000
#  (all load from 127.0.0.1), limit 5000 -> 100000 (class size), softsendq 8192 -> 1M
#  and recvq 8192 -> 1M (bursts are not throttled), hardsendq 262144 -> 1M (a client is
#  dropped past 1 MiB of unsent data), pingfreq 120 -> 10m, resolvehostnames yes -> no.
<connect name="bench" allow="*" maxchans="20" timeout="60" pingfreq="10m"
         hardsendq="1M" softsendq="1M" recvq="1M" threshold="1000000" commandrate="1000000000"
         fakelag="no" localmax="100000" globalmax="100000" maxconnwarn="no"
         resolvehostnames="no" useident="no" limit="100000">
<channels users="20" opers="60">
<files motd="$dir/motd.txt">
<pid file="$dir/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="$dir/ircd.log">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes">
<security hideserver="" userstats="Pu" customversion="" maxtargets="20">
# softlimit 1024 -> 100000 clients (capped by the fd limit), somaxconn 128 -> 4096
<performance quietbursts="yes" softlimit="100000" somaxconn="4096" netbuffersize="10240" clonesonconnect="no">
<whowas groupsize="10" maxgroups="100000" maxkeep="3d">
<limits maxnick="30">
EOF
}

# Other work on this (shared) machine skews every number: wait up to QUIET_WAIT seconds
# for the cores to be idle (< 15 % busy over one second) before each run.
: "${QUIET_WAIT:=120}"
busy_pct() {
    local a b
    read -r -a a < <(head -1 /proc/stat)
    sleep 1
    read -r -a b < <(head -1 /proc/stat)
    local ta=0 tb=0 i
    for i in 1 2 3 4 5 6 7 8; do ta=$((ta + a[i])); tb=$((tb + b[i])); done
    local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=$((tb - ta))
    echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
wait_quiet() {
    local waited=0 pct
    while pct=$(busy_pct) && [ "$pct" -ge 15 ] && [ $waited -lt "$QUIET_WAIT" ]; do
        waited=$((waited + 1))
    done
    [ "$pct" -lt 15 ] || echo "   (machine still ${pct}% busy with other work; numbers may be low)"
}

wait_port() { # port: wait until something listens there
    for _ in $(seq 100); do
        ss -ltn "sport = :$1" | grep -q LISTEN && return 0
        sleep 0.1
    done
    echo "server did not listen on $1" >&2
    return 1
}

# Starts server $1; sets SERVER_PID, PROTO and ADDR.
start_server() {
    case $1 in
        dmconnect | dmconnect-ws)
            local d=$TMP/dmconnect
            rm -rf "$d" && mkdir -p "$d"
            write_dmconnect_conf "$d/dm.toml"
            "$DM" serve --config "$d/dm.toml" --data-dir "$d/data" --ready-file "$d/ready" >"$d/log" 2>&1 &
            SERVER_PID=$!
            for _ in $(seq 100); do [ -s "$d/ready" ] && break; sleep 0.1; done
            ADDR=$(sed -n 's/.*"plain":"\([^"]*\)".*/\1/p' "$d/ready")
            [ -n "$ADDR" ] || { echo "dmconnect did not start:"; cat "$d/log"; return 1; }
            PROTO=dm
            if [ "$1" = dmconnect-ws ]; then PROTO=ws; fi
            ;;
        ngircd)
            write_ngircd_conf "$TMP/ngircd.conf"
            ngircd -n -f "$TMP/ngircd.conf" >"$TMP/ngircd.log" 2>&1 &
            SERVER_PID=$!
            wait_port $NG_PORT
            ADDR=127.0.0.1:$NG_PORT PROTO=irc
            ;;
        inspircd)
            write_inspircd_conf "$TMP/inspircd.conf"
            /usr/sbin/inspircd --nofork --runasroot --config "$TMP/inspircd.conf" >"$TMP/inspircd.out" 2>&1 &
            SERVER_PID=$!
            wait_port $INSP_PORT
            ADDR=127.0.0.1:$INSP_PORT PROTO=irc
            ;;
        *) echo "unknown server $1" >&2; return 1 ;;
    esac
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

scenario_args() {
    case $1 in
        fanout-flat) echo "fanout --clients $CLIENTS --senders $SENDERS --messages $MESSAGES --window $WINDOW" ;;
        fanout-rate) echo "fanout --clients $CLIENTS --senders $SENDERS --messages $RATE_MESSAGES --rate $RATE" ;;
        idle) echo "idle --sessions $IDLE_SESSIONS --room-size 100" ;;
        pm) echo "pm --pairs $PAIRS --messages $PM_MESSAGES --window $WINDOW" ;;
        login-storm) echo "login-storm --clients $CLIENTS --senders $SENDERS --rate $STORM_RATE --logins $STORM_LOGINS" ;;
        slow-reader) echo "slow-reader --clients $SLOW_CLIENTS --senders $SENDERS --rate $SLOW_RATE --size $SLOW_SIZE --slow-secs $SLOW_SECS" ;;
        *) echo "unknown scenario $1" >&2; return 1 ;;
    esac
}

# Each scenario runs on a freshly started server, servers interleaved, so that RSS and
# CPU numbers belong to that scenario alone.
for scen in $SCENARIOS; do
    args=$(scenario_args "$scen")
    echo "== $scen: dmbench $args"
    for srv in $SERVERS; do
        wait_quiet
        if ! start_server "$srv"; then
            echo "$srv: did not start; skipped"
            stop_server
            continue
        fi
        t0=$SECONDS
        # shellcheck disable=SC2086
        if ! timeout 900 "$BENCH" --proto "$PROTO" --addr "$ADDR" --pid "$SERVER_PID" --label "$srv" --tag "$scen" \
            --setup-concurrency "$SETUP_CONCURRENCY" --json "$RESULTS" $args | grep -v '^{'; then
            echo "$srv: $scen failed"
        fi
        stop_server
        echo "   ($((SECONDS - t0)) s including setup)"
    done
done

echo
echo "== total $SECONDS s"
echo "== results (ratios: dmconnect ÷ peer; ↑ higher is better, ↓ lower is better)"
"$BENCH" table --ours dmconnect "$RESULTS"
if [ -n "$OUT" ]; then
    cp "$RESULTS" "${OUT%.txt}.jsonl"
fi
