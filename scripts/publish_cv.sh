#!/usr/bin/env bash
# Copy a cross-validation's scores (scripts/herlev_cv.sh OUT_DIR) into results/: the evaluate
# outputs, and per fold its history, split and train arguments (no checkpoints: they are
# rebuilt by the script and are too large to commit).
#
#   scripts/publish_cv.sh OUT_DIR results/NAME
set -euo pipefail
src=${1:?usage: scripts/publish_cv.sh OUT_DIR results/NAME}
dst=${2:?usage: scripts/publish_cv.sh OUT_DIR results/NAME}
mkdir -p "$dst"
for f in summary.csv summary.md summary.png scoring.json image_labels.csv; do
  if [[ -f "$src/eval/$f" ]]; then cp "$src/eval/$f" "$dst/"; fi
done
gzip -c -n "$src/eval/per_image.csv" > "$dst/per_image.csv.gz"
for fold in "$src"/fold*; do
  k=$(basename "$fold")
  mkdir -p "$dst/folds/$k"
  for f in history.csv split.json train_args.json; do
    if [[ -f "$fold/$f" ]]; then cp "$fold/$f" "$dst/folds/$k/"; fi
  done
done
echo "published $src -> $dst"
