#!/usr/bin/env bash
# A Herlev recipe, cross-validated: train one model per fold, then score every Herlev
# image with the fold model that never saw it (python -m papseg_utils evaluate).
#
#   scripts/herlev_cv.sh OUT_DIR [extra train options...]
#
# Environment: PAPSEG_HERLEV_DIR (the Herlev folder, else the package's default location),
# PROFILE (default herlev-best, the letterbox recipe; herlev-scale-true for the scale-true one),
# FOLDS (default 5), EPOCHS (default: the profile's), PYTHON (default python).
set -euo pipefail
out=${1:?usage: scripts/herlev_cv.sh OUT_DIR [extra train options]}
shift
py=${PYTHON:-python}
folds=${FOLDS:-5}
profile=${PROFILE:-herlev-best}
here=$(cd "$(dirname "$0")/.." && pwd)
# the profile as the notebook and `train --profile` read it (extends: resolved)
epochs=${EPOCHS:-$("$py" -c "import sys
from papseg_utils.book.profiles import RunnerError, profile_parameters
try:
    print(profile_parameters('06_fine_tuning', sys.argv[2], sys.argv[1])['num_epochs'])
except RunnerError as err:
    sys.exit(f'scripts/herlev_cv.sh: PROFILE={sys.argv[2]}: {err}')" "$here/notebooks" "$profile")}
for ((k = 0; k < folds; k++)); do
  if "$py" -c "import json, sys; sys.exit(json.load(open(sys.argv[1]))['epoch'] < int(sys.argv[2]))" \
    "$out/fold$k/last/config.json" "$epochs" 2>/dev/null; then
    echo "fold $k: already trained, skipped"
    continue
  fi
  resume=()  # a fold stopped part-way (Ctrl-C, a time limit) goes on from its last checkpoint
  [[ -f $out/fold$k/last/config.json ]] && resume=(--resume "$out/fold$k/last")
  "$py" -m papseg_utils train --profile "$profile" --val-fraction 0 \
    --cv-folds "$folds" --fold "$k" --epochs "$epochs" --output-dir "$out/fold$k" "${resume[@]}" "$@"
done
"$py" -m papseg_utils evaluate "$out"/fold*/last --dataset herlev --split test \
  --tta --out "$out/eval"
