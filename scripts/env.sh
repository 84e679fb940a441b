#!/usr/bin/env bash
# Create (once) and print the path of the project's virtual environment.
#
# The venv holds third-party packages only, pinned by requirements/lock.txt.
# It lives outside the clone, in a cache folder keyed by the hash of the lock
# file, so repeated fresh clones (CI) share one ~7 GB environment instead of
# piling up copies; a new lock gives a new venv. The project itself is put on
# the path with PYTHONPATH by the Makefile, so each clone runs its own code;
# `make lab` (scripts/lab.sh) also installs the clone it runs from editable,
# for kernels started without PYTHONPATH.
#
#   PAPSEG_VENV=/path/to/venv   use this venv instead (created if missing)
#   PAPSEG_CACHE=/path          cache root (default: ${XDG_CACHE_HOME:-~/.cache}/papseg)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$here/requirements/lock.txt"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "papseg needs Python 3.11 (found $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
hash="$(sha256sum "$lock" | cut -c1-12)"
cache="${PAPSEG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/papseg}"
venv="${PAPSEG_VENV:-$cache/venv-py311-$hash}"
if [ ! -f "$venv/.papseg-complete" ]; then
    echo "setting up $venv (first run only; about 2-4 minutes)" >&2
    mkdir -p "$(dirname "$venv")"
    # A lock on the cache folder keeps two concurrent setups from colliding.
    exec 9>"$(dirname "$venv")/.setup.lock"
    flock 9
    if [ ! -f "$venv/.papseg-complete" ]; then
        rm -rf "$venv"
        log="$(dirname "$venv")/setup-$hash.log"
        if ! { "$python" -m venv "$venv" &&
               "$venv/bin/python" -m pip install --upgrade pip &&
               "$venv/bin/python" -m pip install --no-deps -r "$lock" &&
               "$venv/bin/python" -m pip check; } >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            echo "environment setup failed; full log: $log" >&2
            exit 1
        fi
        touch "$venv/.papseg-complete"
    fi
fi
echo "$venv"
