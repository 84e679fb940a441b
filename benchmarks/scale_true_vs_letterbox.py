"""The scale-true recipe against the letterbox recipe, image by image, on the same CV folds.

Reads two ``evaluate`` outputs (``per_image.csv(.gz)`` and ``image_labels.csv``) and the Herlev
image sizes, and writes into ``--out``:

* ``by_scale.csv``: per letterbox factor bin (224 / long side; the bins of the scale issue);
* ``by_diagnosis.csv``: per diagnostic class;
* ``overall.csv``: all images;

each with the images, both recipes' per-image means, and the paired difference (scale-true
minus letterbox) with a bootstrap 95 % interval, for nucleus and cytoplasm Dice, nucleus
HD95 (px) and the paper taxonomy's healthy/unhealthy Dice; and ``image_head.csv``: accuracy,
sensitivity and specificity of each recipe's healthy/unhealthy head, on the images both
scored, and ``image_head_by_scale.csv``, the same per letterbox factor bin. ``--scale-true`` may cover fewer folds than ``--letterbox``: only its images are
compared. ``--names`` relabels the two columns, to compare two scale-true recipes. Usage::

    PYTHONPATH=. python benchmarks/scale_true_vs_letterbox.py \\
        --letterbox results/herlev-best-cv --scale-true results/herlev-scale-true-cv \\
        --out results/herlev-scale-true-cv/vs-letterbox
    PYTHONPATH=. python benchmarks/scale_true_vs_letterbox.py --names native,fine \\
        --letterbox results/herlev-scale-true-cv --scale-true results/herlev-scale-true-fine-cv \\
        --out results/herlev-scale-true-fine-cv/vs-native
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def main(argv=None) -> int:
    from papseg_utils.data.herlev import list_image_sizes
    from papseg_utils.results.scale import (
        COMPARED_KEYS,
        SCALE_BINS,
        compare_by,
        head_rows,
        image_groups,
    )
    from papseg_utils.results.scorings import per_image_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--letterbox", type=Path, required=True)
    ap.add_argument("--scale-true", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--names", default="letterbox,scale_true",
                    help="the column labels of the two folders, A,B (default: %(default)s)")  # fmt: skip
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.names.split(",")]
    if len(names) != 2 or not all(names) or names[0] == names[1]:
        ap.error(f"--names {args.names!r}: give two different labels, A,B")
    folders = dict(zip(names, (args.letterbox, args.scale_true), strict=True))
    tables = {name: per_image_table(folder) for name, folder in folders.items()}
    groups = image_groups(list_image_sizes())
    groups = groups.loc[groups.index.isin(tables[names[1]].image.unique())]
    args.out.mkdir(parents=True, exist_ok=True)
    parts = {
        "by_scale": (groups.scale_bin, [b[0] for b in SCALE_BINS]),
        "by_diagnosis": (groups.diagnosis, None),
        "overall": (pd.Series("all", index=groups.index), None),
    }
    for name, (by, order) in parts.items():
        df = compare_by(tables, by, COMPARED_KEYS, n_boot=args.n_boot, order=order)
        df.to_csv(args.out / f"{name}.csv", index=False)
        print(f"\n{name}\n" + df.round(3).to_string(index=False))
    heads = head_rows(folders, groups.index)
    if heads:
        pd.DataFrame(heads).to_csv(args.out / "image_head.csv", index=False)
        print("\n" + pd.DataFrame(heads).round(4).to_string(index=False))
        by_bin = [{"group": b, **row} for b in (bin_[0] for bin_ in SCALE_BINS)
                  for row in head_rows(folders, groups.index[groups.scale_bin == b])]  # fmt: skip
        pd.DataFrame(by_bin).to_csv(args.out / "image_head_by_scale.csv", index=False)
        print("\n" + pd.DataFrame(by_bin).round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
