#!/usr/bin/env bash
# Side-by-side benchmark: dmconnect vs ngircd vs InspIRCd on this machine, same run,
# same scenarios, same parameters. Prints one summary line per scenario and server,
# then one Markdown table with absolute numbers and ratios (dmconnect ÷ each peer).
#
# Usage: bench/compare.sh                      (defaults: a few minutes on 2 cores)
#        SCENARIOS="fanout-flat idle" bench/compare.sh
#        SCENARIOS="fanout-rate fanout-cold" bench/compare.sh   (fanout-cold: paced chat from the moment the last
#          member joined; every fanout record also has the p99 of its first second)
#        SERVERS="dmconnect dmconnect-ws" SCENARIOS="fanout-flat fanout-rate" bench/compare.sh
#          (dmconnect-ws: the same server, every client a WebSocket session at /ws)
#        SERVERS="dmconnect dmconnect-tls dmconnect-legacy" SCENARIOS=fanout-flat bench/compare.sh
#          (dmconnect-tls: every client on the TLS port, a throwaway self-signed certificate made
#           by openssl; dmconnect-legacy: every client on the legacy encrypted port)
#        OUT=bench/results/$(date +%F).txt bench/compare.sh
#        SCENARIOS=growth bench/compare.sh    (cost-growth matrix: room sizes, room counts, idle 1k..19k)
#        SERVERS="dmconnect dmconnect-full" SCENARIOS=fanout-flat bench/compare.sh
#          (dmconnect-full: history capability + [metrics] + [limits] flood control on, not biting)
#        SERVERS=dmconnect-limits SCENARIOS="login-attack flood" bench/compare.sh
#          (dmconnect-limits: [limits] and [auth] as shipped, except the per-IP setup limits)
#        SERVERS="dmconnect dmconnect-cluster" SCENARIOS="fanout-flat fanout-rate" bench/compare.sh
#          (dmconnect-cluster: two nodes on 127.0.0.1 and 127.0.0.2 over PostgreSQL + NATS,
#           the room's members spread over both; NATS messages per line counted)
# Servers: dmconnect dmconnect-ws dmconnect-tls dmconnect-legacy dmconnect-full dmconnect-limits dmconnect-cluster ngircd inspircd.
# Scenarios: see scenario_args below; the word `growth` expands to the whole cost-growth matrix.
# Every parameter below can be overridden from the environment. Needs root only to
# install ngircd/inspircd (PostgreSQL/nats-server for the cluster) from Debian when they
# are missing. Loopback only.
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
: "${ATTACKERS:=60}"            # login-attack: connections guessing one password
: "${ATTACK_IPS:=1}"            # login-attack: source addresses they use (127.0.0.10, ...)
: "${ATTACK_SECS:=10}"          # login-attack: seconds the attack runs
: "${FLOOD_READERS:=50}"        # flood: members that only read
: "${FLOOD_PACED:=4}"           # flood: paced senders (each under chat_lines_per_sec = 5)
: "${FLOOD_RATE:=8}"            # flood: paced lines/s, all paced senders together
: "${FLOOD_SECS:=10}"           # flood: seconds the flooder floods
: "${GROWTH_RATE:=200}"         # growth: lines/s into all rooms together (the same at every point)
: "${HOLD_SECS:=60}"           # hold-N: seconds of chat while N sessions are held
: "${GROWTH_SECS:=10}"          # growth: seconds of chat per point
: "${GROWTH_SENDERS:=10}"       # growth-room-N: senders in the one room
: "${FULL_CHAT_RATE:=1000000}"  # dmconnect-full: chat_lines_per_sec (checked on every line, never biting)
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

if [ "${BUILD:-1}" = 1 ]; then   # BUILD=0: use the release binaries already built
    echo "== building (release)"
    (cd "$ROOT" && cargo build --release -q -p dmconnect -p dmconnect-bench -p dmcap-history)
fi
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
DM=${DM_BIN:-$TARGET/release/dmconnect}   # DM_BIN: another build to compare (e.g. main's, copied aside)
BENCH=$TARGET/release/dmbench

# Servers inherit this: 19,000 sessions need more than the usual 1,024 descriptors (each
# process has its own limit, so the generator and the server each need ~19,000).
ulimit -n "$(ulimit -Hn)"

TMP=$(mktemp -d /tmp/dmbench.XXXXXX)
RESULTS=$TMP/results.jsonl
SERVER_PIDS=()
CLUSTER_DIR=
cleanup() {
    local p
    for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -n "$CLUSTER_DIR" ]; then
        "$ROOT/scripts/cluster-services.sh" stop "$CLUSTER_DIR" >/dev/null 2>&1 || true
        rm -rf "$CLUSTER_DIR"
    fi
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

# write_dmconnect_conf FILE MODE [LISTEN_IP NODE]
#   plain:   core chat only, every anti-abuse limit off (measures the server, like the peers' configs)
#   full:    plain + the history capability + [metrics] + [limits] flood control on (at
#            FULL_CHAT_RATE, so it is checked on every line without delaying the benchmark)
#   limits:  [limits] and [auth] as shipped, except the per-IP limits that only bite because
#            every client comes from 127.0.0.1 (login-attack, flood)
#   cluster: plain + [cluster] on PostgreSQL and NATS (DMC_PG_URL, DMC_NATS_URL), node NODE
#   tls:     plain + the TLS port (certificate and key in the config's directory)
#   legacy:  plain + the legacy encrypted port
write_dmconnect_conf() {
    local f=$1 mode=$2 ip=${3:-127.0.0.1} node=${4:-}
    {
        echo '[server]'
        echo "listen = \"$ip:0\"                # loopback, any free port (read back from the ready file)"
        if [ "$mode" = legacy ]; then
            echo "encrypted_listen = \"$ip:0\"      # the clients' port"
        else
            echo 'encrypted_listen = ""           # legacy encrypted port not needed'
        fi
        if [ "$mode" = tls ]; then
            local d
            d=$(dirname "$f")
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
                -subj /CN=localhost -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
            echo "tls_listen = \"$ip:0\"            # the clients' port"
            echo "tls_cert = \"$d/cert.pem\"         # throwaway self-signed pair (openssl, P-256)"
            echo "tls_key = \"$d/key.pem\""
        fi
        echo '[federation]'
        echo 'enabled = false                 # no server-to-server traffic'
        echo '[limits]'
        echo 'max_connections_per_ip = 0      # default 64: all load comes from 127.0.0.1'
        echo 'registrations_per_ip_per_hour = 0  # default 20: every user registers from 127.0.0.1'
        echo 'idle_timeout_secs = 0           # idle sessions must not be closed during a run'
        if [ "$mode" = limits ]; then
            echo '[capabilities]'
            echo 'enabled = []'
            return
        fi
        echo 'max_connections = 0             # default 20,000: unlimited'
        echo 'max_rooms = 0                   # the scenarios create many rooms from few accounts'
        echo 'max_rooms_per_account = 0'
        echo 'login_failures_per_ip = 0       # every attempt is charged until it succeeds: thousands at'
        echo 'login_failures_per_account = 0  #   once from 127.0.0.1 would be serialised'
        if [ "$mode" = full ]; then
            echo "chat_lines_per_sec = $FULL_CHAT_RATE  # flood control runs on every line, never delays"
            echo "chat_burst = $FULL_CHAT_RATE"
            echo '[metrics]'
            echo 'listen = "127.0.0.1:0"          # the Prometheus endpoint on, counters counting'
            echo '[capabilities]'
            echo 'enabled = ["history"]           # every room line recorded (bundled libdmcap_history.so)'
        else
            echo 'chat_lines_per_sec = 0          # the scenarios flood on purpose: no flood control'
            echo '[capabilities]'
            echo 'enabled = []                    # no plugins: core chat only, like the IRC servers'
        fi
        echo '[auth]'
        echo 'argon2_memory_kib = 256         # BENCHMARK ONLY: default 19 MiB x 2 passes makes 10,000'
        echo 'argon2_iterations = 1           #   registrations take minutes; never use this in production'
        echo 'max_queued_hashes_per_ip = 1000000  # default 8: every login comes from 127.0.0.1'
        echo 'max_queued_hashes = 1000000     # default 1,024: 19,000 sessions log in within a minute'
        if [ "$mode" = cluster ]; then
            echo '[cluster]'
            echo 'enabled = true'
            echo "node_id = \"$node\""
            echo "postgres_url = \"$DMC_PG_URL\""
            echo "nats_url = \"$DMC_NATS_URL\""
        fi
    } >"$f"
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

# Server CPU seconds (utime + stime) of processes $@, from /proc/PID/stat.
cpu_secs() {
    local hz total=0 p f
    hz=$(getconf CLK_TCK)
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        # Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
        f=$(sed 's/^.*) //' "/proc/$p/stat")
        total=$((total + $(echo "$f" | awk '{print $12 + $13}')))
    done
    awk -v t="$total" -v hz="$hz" 'BEGIN{printf "%.2f", t / hz}'
}

# Starts one dmconnect process: start_dm DIR MODE [LISTEN_IP NODE]; appends to SERVER_PIDS, sets DM_ADDR.
start_dm() {
    local d=$1
    rm -rf "$d" && mkdir -p "$d"
    write_dmconnect_conf "$d/dm.toml" "$2" "${3:-127.0.0.1}" "${4:-}"
    "$DM" serve --config "$d/dm.toml" --data-dir "$d/data" --ready-file "$d/ready" >"$d/log" 2>&1 &
    SERVER_PIDS+=($!)
    for _ in $(seq 150); do [ -s "$d/ready" ] && break; sleep 0.1; done
    local door=plain
    case $2 in tls) door=tls ;; legacy) door=encrypted ;; esac
    DM_ADDR=$(sed -n "s/.*\"$door\":\"\([^\"]*\)\".*/\\1/p" "$d/ready" 2>/dev/null)
    [ -n "$DM_ADDR" ] || { echo "dmconnect did not start:"; cat "$d/log"; return 1; }
}

# PostgreSQL + NATS for dmconnect-cluster, once per run (scripts/cluster-services.sh).
start_cluster_services() {
    [ -z "$CLUSTER_DIR" ] || return 0
    # Outside $TMP (mode 700): PostgreSQL runs as its own user and must reach its directory.
    CLUSTER_DIR=$(mktemp -d /tmp/dmbench-cluster.XXXXXX)
    chmod 755 "$CLUSTER_DIR"
    "$ROOT/scripts/cluster-services.sh" start "$CLUSTER_DIR" >/dev/null || return 1
    # shellcheck disable=SC1091
    source "$CLUSTER_DIR/env"
}

# Starts server $1; sets SERVER_PIDS, PROTO, ADDR and EXTRA (more dmbench flags).
start_server() {
    EXTRA=
    case $1 in
        dmconnect | dmconnect-ws | dmconnect-tls | dmconnect-legacy | dmconnect-full | dmconnect-limits)
            local mode=plain
            case $1 in
                dmconnect-full) mode=full ;;
                dmconnect-limits) mode=limits ;;
                dmconnect-tls) mode=tls ;;
                dmconnect-legacy) mode=legacy ;;
            esac
            start_dm "$TMP/dmconnect" "$mode" || return 1
            ADDR=$DM_ADDR PROTO=dm
            case $1 in dmconnect-ws) PROTO=ws ;; dmconnect-tls) PROTO=tls ;; dmconnect-legacy) PROTO=legacy ;; esac
            ;;
        dmconnect-cluster)
            start_cluster_services || return 1
            start_dm "$TMP/node1" cluster 127.0.0.1 n1 || return 1
            ADDR=$DM_ADDR
            start_dm "$TMP/node2" cluster 127.0.0.2 n2 || return 1
            PROTO=dm EXTRA="--also-addr $DM_ADDR --nats $DMC_NATS_URL"
            ;;
        ngircd)
            write_ngircd_conf "$TMP/ngircd.conf"
            ngircd -n -f "$TMP/ngircd.conf" >"$TMP/ngircd.log" 2>&1 &
            SERVER_PIDS+=($!)
            wait_port $NG_PORT
            ADDR=127.0.0.1:$NG_PORT PROTO=irc
            ;;
        inspircd)
            write_inspircd_conf "$TMP/inspircd.conf"
            /usr/sbin/inspircd --nofork --runasroot --config "$TMP/inspircd.conf" >"$TMP/inspircd.out" 2>&1 &
            SERVER_PIDS+=($!)
            wait_port $INSP_PORT
            ADDR=127.0.0.1:$INSP_PORT PROTO=irc
            ;;
        *) echo "unknown server $1" >&2; return 1 ;;
    esac
}

stop_server() {
    local p
    for p in "${SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${SERVER_PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    SERVER_PIDS=()
}

# The whole cost-growth matrix (issue: how cost grows), one word.
GROWTH="growth-room-10 growth-room-100 growth-room-1000 growth-room-5000 growth-rooms-1 growth-rooms-100
        growth-rooms-1000 idle-1000 idle-5000 idle-10000 idle-19000"

# Messages per sender so that N senders at GROWTH_RATE in total chat for GROWTH_SECS.
per_sender() { echo $(( (GROWTH_RATE * GROWTH_SECS + $1 - 1) / $1 )); }

scenario_args() {
    local n
    case $1 in
        fanout-flat) echo "fanout --clients $CLIENTS --senders $SENDERS --messages $MESSAGES --window $WINDOW" ;;
        fanout-rate) echo "fanout --clients $CLIENTS --senders $SENDERS --messages $RATE_MESSAGES --rate $RATE" ;;
        # The same, sending from the moment the last member joined (join notices still in flight).
        fanout-cold) echo "fanout --cold --clients $CLIENTS --senders $SENDERS --messages $RATE_MESSAGES --rate $RATE" ;;
        idle) echo "idle --sessions $IDLE_SESSIONS --room-size 100" ;;
        pm) echo "pm --pairs $PAIRS --messages $PM_MESSAGES --window $WINDOW" ;;
        login-storm) echo "login-storm --clients $CLIENTS --senders $SENDERS --rate $STORM_RATE --logins $STORM_LOGINS" ;;
        slow-reader) echo "slow-reader --clients $SLOW_CLIENTS --senders $SENDERS --rate $SLOW_RATE --size $SLOW_SIZE --slow-secs $SLOW_SECS" ;;
        login-attack) echo "login-attack --attackers $ATTACKERS --attack-ips $ATTACK_IPS --secs $ATTACK_SECS" ;;
        flood) echo "flood --readers $FLOOD_READERS --paced $FLOOD_PACED --rate $FLOOD_RATE --secs $FLOOD_SECS" ;;
        growth-room-*)
            n=${1#growth-room-}
            echo "fanout --rooms 1 --clients $n --senders $GROWTH_SENDERS --rate $GROWTH_RATE --messages $(per_sender "$GROWTH_SENDERS")"
            ;;
        growth-rooms-*)
            n=${1#growth-rooms-}
            echo "fanout --rooms $n --clients 10 --senders 1 --rate $GROWTH_RATE --messages $(per_sender "$n")"
            ;;
        idle-*) echo "idle --sessions ${1#idle-} --room-size 100" ;;
        # N sessions in rooms of 100, one sender per room, GROWTH_RATE lines/s in total for HOLD_SECS.
        hold-*)
            n=$(( ${1#hold-} / 100 ))
            echo "fanout --rooms $n --clients 100 --senders 1 --rate $GROWTH_RATE --messages $(( (GROWTH_RATE * HOLD_SECS + n - 1) / n ))"
            ;;
        *) echo "unknown scenario $1" >&2; return 1 ;;
    esac
}

expanded=
for scen in $SCENARIOS; do
    if [ "$scen" = growth ]; then expanded+=" $GROWTH"; else expanded+=" $scen"; fi
done
SCENARIOS=$expanded
# Each scenario runs on a freshly started server, servers interleaved, so that RSS and
# CPU numbers belong to that scenario alone.
for scen in $SCENARIOS; do
    args=$(scenario_args "$scen")
    echo "== $scen: dmbench $args"
    for srv in $SERVERS; do
        if [ "$scen" = login-attack ] && [ "${srv#dmconnect}" = "$srv" ]; then
            echo "$srv: login-attack skipped (no accounts to attack)"
            continue
        fi
        wait_quiet
        echo "   [$srv] $(uptime | sed 's/^ *//')"
        if ! start_server "$srv"; then
            echo "$srv: did not start; skipped"
            stop_server
            continue
        fi
        t0=$SECONDS
        cpu0=$(cpu_secs "${SERVER_PIDS[@]}")
        # shellcheck disable=SC2086
        if ! timeout 900 "$BENCH" --proto "$PROTO" --addr "$ADDR" --pid "${SERVER_PIDS[0]}" --label "$srv" \
            --tag "$scen" --setup-concurrency "$SETUP_CONCURRENCY" --json "$RESULTS" $EXTRA $args | grep -v '^{'; then
            echo "$srv: $scen failed"
        fi
        cpu1=$(cpu_secs "${SERVER_PIDS[@]}")
        echo "   [$srv] server CPU over the whole run incl. setup (all processes): $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.2f", b - a}') s"
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
