#!/usr/bin/env bash
# Regenerate requirements/lock.txt from pyproject.toml, and environment.yml from the lock.
#
#   scripts/lock.sh            resolve afresh in a scratch venv (network: PyPI), then write both files
#   scripts/lock.sh --env-only rewrite environment.yml from the current lock (no network)
#
# The lock pins every package (pip install --no-deps -r requirements/lock.txt);
# environment.yml is the conda-forge equivalent: python=3.11 + pip, with a pip
# section of exactly the lock's pins (tests/test_hygiene.py checks they agree),
# then "-e .": the clone itself, editable (conda runs pip in the file's folder).
# A new lock changes its hash, so scripts/env.sh builds a new cached venv.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$here/requirements/lock.txt"
envfile="$here/environment.yml"
python="${PYTHON:-python3.11}"

if [ "${1:-}" != "--env-only" ]; then
    scratch="$(mktemp -d)"
    trap 'rm -rf "$scratch"' EXIT
    "$python" -m venv "$scratch/venv"
    "$scratch/venv/bin/python" -m pip install --quiet --upgrade pip
    # Resolve the project with all extras; the project itself is not pinned.
    "$scratch/venv/bin/python" -m pip install --quiet "$here[book,dev]"
    {
        echo "# Fully pinned lock for pip (used as: pip install --no-deps -r requirements/lock.txt)."
        echo "# Regenerate with: make lock"
        "$scratch/venv/bin/python" -m pip freeze --exclude-editable |
            grep -viE '^(papseg-utils|papseg_utils)[ =@]' | LC_ALL=C sort -f
    } >"$lock.new"
    mv "$lock.new" "$lock"
fi

{
    echo "# Conda environment for papseg (conda env create -f environment.yml)."
    echo "# Generated from requirements/lock.txt by scripts/lock.sh; do not edit by hand."
    echo "# The pip section is the lock's pins, then this clone, editable (-e ., relative to"
    echo "# this file's folder). For the notebooks, register the kernel and start JupyterLab:"
    echo "#   conda activate papseg"
    echo "#   python -m ipykernel install --user --name papseg --display-name \"Python 3 (papseg)\""
    echo "#   jupyter lab notebooks/"
    echo "name: papseg"
    echo "channels:"
    echo "  - conda-forge"
    echo "dependencies:"
    echo "  - python=3.11"
    echo "  - pip"
    echo "  - pip:"
    grep -vE '^\s*(#|$)' "$lock" | sed 's/^/      - /'
    echo "      - -e ."
} >"$envfile"
echo "wrote $envfile" >&2
