#!/usr/bin/env bash
# Make sure a system Chromium exists for the browser tests (tests/test_book.py).
#
# The tests drive /usr/bin/chromium with playwright and never download a
# browser. When it is missing and we are root (CI containers), install the
# Debian/Ubuntu package; otherwise explain what to do. Exit status is 0 either
# way: without Chromium the browser tests skip (locally) or fail (CI=true).
#
#   PAPSEG_CHROMIUM=/path/to/chromium   use another binary (also read by the tests)
set -euo pipefail
chromium="${PAPSEG_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the browser tests (apt-get, about 15 s)" >&2
    log="$(mktemp)"
    if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } >"$log" 2>&1; then
        tail -n 20 "$log" >&2
        echo "could not install chromium; the browser tests will skip (or fail under CI=true)" >&2
    fi
    rm -f "$log"
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    why="not root"
else
    why="no apt-get"
fi
echo "chromium not found at $chromium and cannot be installed here ($why)." >&2
echo "Install it (e.g. sudo apt-get install chromium) or set PAPSEG_CHROMIUM; the browser tests skip until then." >&2
