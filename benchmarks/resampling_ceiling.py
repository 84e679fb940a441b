"""How much a coarser target spacing costs before any network: masks there and back.

Each Herlev mask is resampled from 0.201 um/px to a target spacing and back
(:func:`papseg_utils.data.spacing.resample_mask`), and the round trip is scored against the
original with per-image Dice. That is the best Dice a network working at that spacing could
reach; the scale-true recipe picks its target spacing with it. Usage::

    PYTHONPATH=. python benchmarks/resampling_ceiling.py [--out results/resampling_ceiling.csv]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SPACINGS = (0.201, 0.25, 0.3015, 0.402)


def main(argv=None) -> int:
    from papseg_utils.data import load_dataset
    from papseg_utils.data.spacing import resample_mask, resampled_shape

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("results/resampling_ceiling.csv"))
    args = ap.parse_args(argv)
    samples = load_dataset("herlev", scheme="herlev3")
    rows = []
    for target in SPACINGS:
        factor = 0.201 / target
        for cls, cid in (("nucleus", 2), ("cytoplasm", 1)):
            dice = []
            for s in samples:
                m = s.mask
                back = resample_mask(resample_mask(m, resampled_shape(m.shape, factor)), m.shape)
                a, b = m == cid, back == cid
                dice.append(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))
            rows.append({"target_spacing_um": target, "class": cls, "images": len(dice),
                         "mean_dice": float(np.mean(dice)), "min_dice": float(np.min(dice))})  # fmt: skip
    df = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    print(df.round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
