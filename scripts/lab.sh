#!/usr/bin/env bash
# Set up the project's venv for interactive use and start JupyterLab on notebooks/ (make lab).
#
# 1. the venv of scripts/env.sh (created on first use);
# 2. this clone installed editable into it (pip install --no-deps -e), so that any kernel
#    of the venv imports papseg_utils without PYTHONPATH. Skipped when the venv already
#    points at this clone; clones with the same lock share one venv, so it points at the
#    clone that ran this last (make and the tests put their own clone first on PYTHONPATH);
# 3. a kernel named "papseg" ("Python 3 (papseg)"), the venv's python, installed for the
#    user (jupyter_data_dir(): $JUPYTER_DATA_DIR when set), for a JupyterLab or VS Code
#    started from another environment. The notebooks name the kernel python3, which in
#    the JupyterLab started here is the venv's python too;
# 4. JupyterLab, with notebooks/ as its root.
#
#   PAPSEG_LAB_SETUP_ONLY=1   stop after step 3 and print the kernel's folder
#   scripts/lab.sh ARGS...    extra JupyterLab options (make lab LAB_ARGS="--no-browser --port 8890")
#
# Kernels run with NO_ALBUMENTATIONS_UPDATE=1 and without MPLBACKEND (inline figures).
# HF_HUB_OFFLINE is left as the caller set it (make lab drops the Makefile's default), so
# with network access the hub weights download as they do anywhere else.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$("$here/scripts/env.sh")"
py="$venv/bin/python"  # run with -I: neither PYTHONPATH nor the working folder counts

# 2. The editable install; the lock keeps two clones from installing at once.
exec 8>"$venv/.papseg-lab.lock"
flock 8
current="$("$py" -I - <<'EOF'
import json
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import unquote, urlsplit

try:
    info = json.loads(distribution("papseg-utils").read_text("direct_url.json") or "{}")
except PackageNotFoundError:
    info = {}
if info.get("dir_info", {}).get("editable"):
    print(Path(unquote(urlsplit(info["url"]).path)).resolve())
EOF
)"
clone="$(cd "$here" && pwd -P)"
if [ "$current" != "$clone" ]; then
    echo "installing $clone editable into $venv${current:+ (it pointed at $current)}" >&2
    log="$venv/.papseg-lab-install.log"  # setuptools warns; shown only when pip fails
    if ! "$py" -I -m pip install --quiet --disable-pip-version-check --no-deps \
        --no-build-isolation -e "$clone" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "editable install failed; full log: $log" >&2
        exit 1
    fi
fi
flock -u 8

# 3. The kernel "papseg"; ipykernel prints "Installed kernelspec papseg in <folder>".
out="$("$py" -I -m ipykernel install --user --name papseg --display-name "Python 3 (papseg)" \
    --env NO_ALBUMENTATIONS_UPDATE 1)"
kernel="$(sed -n 's/^Installed kernelspec papseg in //p' <<<"$out")"
[ -f "$kernel/kernel.json" ] || { echo "kernel not installed: $out" >&2; exit 1; }
if [ "${PAPSEG_LAB_SETUP_ONLY:-0}" = 1 ]; then
    echo "$kernel"
    exit 0
fi
echo "kernel \"Python 3 (papseg)\": $kernel" >&2

# 4. JupyterLab; the venv's commands (papseg, pip) come first on the PATH of its terminals.
unset MPLBACKEND
export NO_ALBUMENTATIONS_UPDATE=1 PATH="$venv/bin:$PATH"
echo "starting JupyterLab on $clone/notebooks: open the URL it prints below." >&2
echo "stop it with Ctrl-C twice (or Ctrl-C once, then y)." >&2
cd "$clone/notebooks"
exec "$venv/bin/jupyter" lab --ServerApp.root_dir="$clone/notebooks" "$@"
