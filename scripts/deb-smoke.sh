#!/usr/bin/env bash
# Builds the Debian package and smoke-tests it: the expected files are in it,
# and the server unpacked into a temporary root starts, takes a login and
# lists the bundled capabilities, then stops cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(scripts/build-deb.sh | tail -n 1)
echo "package: $deb ($(du -h "$deb" | cut -f1))"

listing=$(dpkg-deb -c "$deb" | awk '{print $NF}')
for want in ./usr/bin/dmconnect ./etc/dmconnect/dmconnect.toml \
    ./usr/lib/dmconnect/capabilities/libdmcap_status.so ./usr/lib/dmconnect/capabilities/libdmcap_ignore.so \
    ./usr/lib/dmconnect/capabilities/libdmcap_sessions.so \
    ./usr/lib/dmconnect/capabilities/libdmcap_http_file_upload.so; do
    grep -qx -- "$want" <<<"$listing" || { echo "missing from the package: $want"; exit 1; }
done
grep -q 'systemd/system/dmconnect.service$' <<<"$listing" || { echo "missing: the systemd unit"; exit 1; }
if grep -Eq 'dice|panicky' <<<"$listing"; then echo "test or example plugins in the package"; exit 1; fi
dpkg-deb -I "$deb" conffiles | grep -qx /etc/dmconnect/dmconnect.toml || { echo "config is no conffile"; exit 1; }

# The packaged unit as systemd reads it, offline: `systemd-analyze verify` with
# ExecStart pointed at the unpacked binary; any warning (typo, bad value) fails.
verify_unit() {
    local unit out
    unit=$(find "$1" -name dmconnect.service -path '*systemd/system*' | head -n 1)
    if ! command -v systemd-analyze > /dev/null; then
        echo "systemd-analyze not installed: unit not verified"
        return
    fi
    sed "s|/usr/bin/dmconnect|$1/usr/bin/dmconnect|" "$unit" > "$1/dmconnect.service"
    out=$(systemd-analyze verify "$1/dmconnect.service" 2>&1) || { echo "$out"; exit 1; }
    [ -z "$out" ] || { echo "systemd-analyze verify: $out"; exit 1; }
    echo "systemd unit verified"
}

root=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$root"; }
trap cleanup EXIT
dpkg-deb -x "$deb" "$root"
verify_unit "$root"
# The packaged config, pointed at the temporary root and loopback ports.
sed -e "s|^data_dir = .*|data_dir = \"$root/var/lib/dmconnect\"|" \
    -e 's|^listen = .*|listen = "127.0.0.1:0"|' -e 's|^encrypted_listen = .*|encrypted_listen = ""|' \
    -e "s|^dir = .*|dir = \"$root/usr/lib/dmconnect/capabilities\"|" \
    "$root/etc/dmconnect/dmconnect.toml" > "$root/test.toml"
printf '[auth]\nargon2_memory_kib = 1024\nargon2_iterations = 1\n' >> "$root/test.toml"
"$root/usr/bin/dmconnect" check-config "$root/test.toml" > /dev/null
"$root/usr/bin/dmconnect" serve --config "$root/test.toml" --ready-file "$root/ready.json" 2> "$root/server.log" &
pid=$!
for _ in $(seq 100); do [ -s "$root/ready.json" ] && break; sleep 0.1; done
port=$(sed -n 's/.*"plain":"[^"]*:\([0-9]*\)".*/\1/p' "$root/ready.json")
[ -n "$port" ] || { echo "server did not start"; cat "$root/server.log"; exit 1; }

exec 3<>"/dev/tcp/127.0.0.1/$port"
expect() {
    local line
    IFS= read -r -t 5 line <&3 || { echo "no answer, wanted: $1"; cat "$root/server.log"; exit 1; }
    line=${line%$'\r'}
    [ "$line" = "$1" ] || { echo "got: $line"; echo "wanted: $1"; exit 1; }
}
expect "Enter command (/login /register):"
printf '/register smoke pw\r\n' >&3
expect "Registration successful. Please log in."
expect "Enter command (/login /register):"
printf '/login smoke pw\r\n' >&3
expect "Login successful."
expect "Available servers: general"
expect "Select a server using /join_server <server_name>."
printf '/list_capabilities\r\n' >&3
expect "Capabilities: status, ignore, sessions, http_file_upload. Use /CAPABILITY_NAME for help."
exec 3>&-

kill -TERM "$pid"
wait "$pid"
pid=""
grep -q "stopped" "$root/server.log"
echo "deb smoke test passed"
