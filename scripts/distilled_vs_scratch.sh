#!/usr/bin/env bash
# Does the distilled MiT-b0 encoder help on Herlev? SegFormer-b0 from scratch, SegFormer-b0 with
# the distilled encoder (pretrained=distilled) and U-Net with the ImageNet EfficientNet-Lite0
# encoder, on the same split (fold 0 of the 5-fold CV: 147 test images), at 100 % and 10 % of the
# training images, seeds 0 and 1; one recipe for all three (128 px, basic augmentation, Dice+CE,
# AdamW 1e-3 for encoder and decoder, 1 warm-up epoch + cosine, a healthy/unhealthy image head,
# last checkpoint). Each run is scored on the test part without TTA.
#
#   scripts/distilled_vs_scratch.sh OUT_DIR [extra train options...]
#
# Environment: PAPSEG_HERLEV_DIR, PYTHON (default python), SEEDS (default "0 1"),
# FRACTIONS (default "1.0 0.1"), ARMS (default: all three names below), EPOCHS_FULL (10),
# EPOCHS_TENTH (40, so that a tenth of the data still gets about 300 optimiser steps).
set -euo pipefail
out=${1:?usage: scripts/distilled_vs_scratch.sh OUT_DIR [extra train options]}
shift
py=${PYTHON:-python}
arms=("segformer-scratch segformer default none"
      "segformer-distilled segformer default distilled"
      "unet-lite0 unet tf_efficientnet_lite0 imagenet")
for seed in ${SEEDS:-0 1}; do
  for frac in ${FRACTIONS:-1.0 0.1}; do
    epochs=${EPOCHS_FULL:-10}
    [[ $frac == 1.0 ]] || epochs=${EPOCHS_TENTH:-40}
    for arm in "${arms[@]}"; do
      read -r name arch enc pre <<<"$arm"
      [[ " ${ARMS:-$name} " == *" $name "* ]] || continue
      run="$out/$name-f$frac-s$seed"
      if [[ -f $run/eval/per_image.csv ]]; then echo "$run: done, skipped"; continue; fi
      resume=()  # a run stopped part-way goes on from its last checkpoint
      [[ -f $run/train/last/config.json ]] && resume=(--resume "$run/train/last")
      "$py" -m papseg_utils train --dataset herlev --scheme herlev3 --image-head health \
        --architecture "$arch" --encoder "$enc" --pretrained "$pre" --image-size 128 \
        --augmentation basic --loss dice_ce --lr 0.001 --lr-encoder 0.001 --freeze-epochs 0 \
        --warmup-epochs 1 --batch-size 8 --epochs "$epochs" --cv-folds 5 --fold 0 \
        --val-fraction 0 --data-fraction "$frac" --seed "$seed" --output-dir "$run/train" \
        "${resume[@]}" "$@"
      "$py" -m papseg_utils evaluate "$run/train/last" --dataset herlev --split test \
        --out "$run/eval"
    done
  done
done
