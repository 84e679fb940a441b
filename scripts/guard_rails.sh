#!/usr/bin/env bash
# Fixed-seed guard rails for a refactor that must change no number: run them before and
# after, then compare the two manifests (every line must match).
#
#   scripts/guard_rails.sh OUT_DIR      # writes OUT_DIR/manifest.txt (sha256 of each output)
#   diff BEFORE/manifest.txt AFTER/manifest.txt
#
# What it runs (about 4 min on 2 CPU cores, plus 3 min when a Herlev checkpoint is given):
#   1. two reference fine-tuning runs on synthetic fields, fixed seed: letterbox and
#      scale-true; their history.csv without the wall-clock column;
#   2. evaluate on each run's test split: per_image.csv, summary.csv, image_labels.csv;
#   3. optional (GUARD_HERLEV_CHECKPOINT=RUN/last): evaluate on Herlev's test split of that run;
#   4. the committed results tables rebuilt from their committed per-image inputs:
#      the CV summaries and the scale-true vs letterbox comparison;
#   5. chapter 8 executed under the default profile: its text and HTML outputs.
# Environment: PYTHON (default python).
set -euo pipefail
out=${1:?usage: scripts/guard_rails.sh OUT_DIR}
py=${PYTHON:-python}
here=$(cd "$(dirname "$0")/.." && pwd)
export HF_HUB_OFFLINE=1 NO_ALBUMENTATIONS_UPDATE=1 PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$out"
common=(--dataset synthetic --num-train-images 24 --image-size 64 --epochs 3 --batch-size 4
  --seed 3 --overwrite --device cpu)
"$py" -m papseg_utils train "${common[@]}" --output-dir "$out/letterbox" >"$out/train.log" 2>&1
"$py" -m papseg_utils train "${common[@]}" --target-spacing-um 0.8 --output-dir "$out/scale_true" \
  >>"$out/train.log" 2>&1
for run in letterbox scale_true; do
  "$py" -m papseg_utils evaluate "$out/$run/last" --dataset synthetic --split test \
    --out "$out/$run/eval" >>"$out/eval.log" 2>&1
done
if [[ -n ${GUARD_HERLEV_CHECKPOINT:-} ]]; then
  "$py" -m papseg_utils evaluate "$GUARD_HERLEV_CHECKPOINT" --dataset herlev --split test \
    --out "$out/herlev/eval" >>"$out/eval.log" 2>&1
fi
"$py" - "$here" "$out" <<'EOF'
import sys
from pathlib import Path

import pandas as pd

here, out = Path(sys.argv[1]), Path(sys.argv[2])
for run in ("letterbox", "scale_true"):  # the history without its wall-clock seconds
    h = pd.read_csv(out / run / "history.csv")
    h.drop(columns=[c for c in h.columns if c.endswith("_s") or c == "time"]).to_csv(
        out / run / "history_numbers.csv", index=False
    )
try:  # the summary of a per-image table, before and after the evaluate/ move
    from papseg_utils.evaluate import summary
except ImportError:
    from papseg_utils.evaluate import summary

for name in ("herlev-best-cv", "herlev-scale-true-cv"):  # committed per-image -> summary
    table = pd.read_csv(here / "results" / name / "per_image.csv.gz")
    summary(table).to_csv(out / f"{name}.rebuilt_summary.csv", index=False)
EOF
"$py" "$here/benchmarks/scale_true_vs_letterbox.py" --letterbox "$here/results/herlev-best-cv" \
  --scale-true "$here/results/herlev-scale-true-cv" --out "$out/vs-letterbox" >>"$out/eval.log" 2>&1
"$py" -m papseg_utils run 08_results --profile default --out "$out/executed" -q >>"$out/run.log" 2>&1
"$py" - "$out/executed/08_results.ipynb" "$out/ch8_outputs.txt" <<'EOF'
import sys

import nbformat

nb = nbformat.read(sys.argv[1], as_version=4)
with open(sys.argv[2], "w") as f:
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            text = o.get("text") or "".join(
                o.get("data", {}).get(k, "") for k in ("text/plain", "text/html", "text/markdown")
            )
            if text and "run time" not in text and "provenance" not in text:
                f.write(f"--- cell {i}\n{text}\n")
EOF
cd "$out"
find . -type f \( -name history_numbers.csv -o -name per_image.csv -o -name summary.csv \
  -o -name image_labels.csv -o -name '*.rebuilt_summary.csv' -o -path './vs-letterbox/*' \
  -o -name ch8_outputs.txt \) | sort | xargs sha256sum >manifest.txt
cat manifest.txt
