#!/usr/bin/env bash
# Builds the Debian package: target/debian/dmconnect_VERSION_ARCH.deb
# Needs cargo-deb (installed from crates.io on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-deb >/dev/null; then
    cargo install cargo-deb --locked
fi
cargo build --release -p dmconnect -p dmcap-status -p dmcap-ignore -p dmcap-sessions -p dmcap-http-file-upload
cargo deb -p dmconnect --no-build --no-strip
ls -1 target/debian/*.deb | tail -n 1
