#!/usr/bin/env bash
# Copy a cross-validation's scores (scripts/herlev_cv.sh OUT_DIR) into results/: the evaluate
# outputs, and per fold its history, split and train arguments (no checkpoints: they are
# rebuilt by the script and are too large to commit). EVAL names the evaluate output folder
# inside OUT_DIR (default: eval), for runs scored by hand with `evaluate --out OUT_DIR/EVAL`.
#
#   scripts/publish_cv.sh OUT_DIR results/NAME [EVAL]
set -euo pipefail
usage="usage: scripts/publish_cv.sh OUT_DIR results/NAME [EVAL]"
src=${1:?$usage}
dst=${2:?$usage}
eval_dir="$src/${3:-eval}"
if [[ ! -f "$eval_dir/per_image.csv" ]]; then
  echo "$eval_dir/per_image.csv: not found; score the run with evaluate --out $eval_dir" >&2
  exit 2
fi
mkdir -p "$dst"
for f in summary.csv summary.md summary.png scoring.json image_labels.csv; do
  if [[ -f "$eval_dir/$f" ]]; then cp "$eval_dir/$f" "$dst/"; fi
done
gzip -c -n "$eval_dir/per_image.csv" > "$dst/per_image.csv.gz"
for fold in "$src"/fold*; do
  [[ -d "$fold" ]] || continue # fold0.train.log and the like are not folds
  k=$(basename "$fold")
  mkdir -p "$dst/folds/$k"
  for f in history.csv split.json train_args.json; do
    if [[ -f "$fold/$f" ]]; then cp "$fold/$f" "$dst/folds/$k/"; fi
  done
done
echo "published $src -> $dst"
