#!/usr/bin/env bash
# Builds the Debian package: target/debian/dmconnect_VERSION_ARCH.deb
# Needs cargo-deb (installed from crates.io on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-deb >/dev/null; then
    cargo install cargo-deb --locked
fi
cargo build --release -p dmconnect -p dmcap-status -p dmcap-ignore -p dmcap-sessions -p dmcap-http-file-upload -p dmcap-history
# The shipped binary and plugins are stripped; their line tables go to dmconnect-dbgsym (a .ddeb whose
# /usr/lib/debug/.build-id files Rust backtraces find when it is installed).
cargo deb -p dmconnect --no-build --dbgsym --compress-debug-symbols=zlib
ls -1 target/debian/*.deb | tail -n 1
