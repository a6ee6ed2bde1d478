#!/usr/bin/env bash
# Install Debian's chromium when it is missing (for pgs-serve's browser test). Idempotent: does
# nothing when a chromium binary is on PATH. Uses the distribution's packages only (apt-get);
# needs root. Exit 0 when chromium is available afterwards, 1 otherwise (the test then skips).
set -u
for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: apt-get not found; install Chromium with the system's package manager" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure_chromium: not root; run 'sudo apt-get install chromium'" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
if ! apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
    echo "ensure_chromium: apt-get install chromium failed" >&2
    exit 1
fi
command -v chromium >/dev/null 2>&1
