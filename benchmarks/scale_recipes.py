"""Scale-true recipes against the letterbox recipe, every arm on the same images.

Each ``--arm NAME=DIR`` is an ``evaluate`` output (``per_image.csv.gz``, ``image_labels.csv``)
of a scale-true recipe on the CV folds of ``--letterbox``. Only the images that every arm
scored are compared, so the rows of one table share their images. Writes into ``--out``:

* ``arms.csv``: per arm (``group``), the per-image means of the letterbox recipe and of the
  arm (``recipe``) and their paired difference (arm minus letterbox) with a bootstrap 95 %
  interval, for nucleus and cytoplasm Dice, nucleus HD95 (px) and the paper's cells;
* ``heads.csv``: each recipe's image-head accuracy, sensitivity and specificity on those images;
* ``medians.csv``: the median nucleus HD95 of each recipe (the issue's target is a median).

Usage::

    PYTHONPATH=. python benchmarks/scale_recipes.py --letterbox results/herlev-best-cv \\
        --arm "0.201 um/px=results/herlev-scale-true-cv" \\
        --arm "0.134 um/px=results/herlev-scale-true-fine-cv" \\
        --out results/herlev-scale-true-fine-cv/recipes
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def _arm(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name.strip() or not folder.strip():
        raise argparse.ArgumentTypeError(f"--arm {text!r}: write NAME=FOLDER")
    return name.strip(), Path(folder.strip())


def main(argv=None) -> int:
    from papseg_utils.results.scale import COMPARED_KEYS, compare_by, head_rows
    from papseg_utils.results.scorings import per_image_table

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--letterbox", type=Path, required=True)
    ap.add_argument("--arm", type=_arm, action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n-boot", type=int, default=2000)
    args = ap.parse_args(argv)
    folders = {"letterbox": args.letterbox, **dict(args.arm)}
    if len(folders) != len(args.arm) + 1:
        ap.error("every --arm needs its own name, and none may be called letterbox")

    tables = {name: per_image_table(folder) for name, folder in folders.items()}
    common = set.intersection(*(set(t.image) for t in tables.values()))
    if not common:
        ap.error("the folders share no scored image")
    groups = pd.Series("all", index=sorted(common))
    rows = []
    for name, _ in args.arm:
        pair = {"letterbox": tables["letterbox"], "recipe": tables[name]}
        rows.append(compare_by(pair, groups, COMPARED_KEYS, n_boot=args.n_boot).assign(group=name))
    args.out.mkdir(parents=True, exist_ok=True)
    arms = pd.concat(rows, ignore_index=True)
    arms.to_csv(args.out / "arms.csv", index=False)
    heads, medians = head_rows(folders, common), []
    for name in folders:
        t = tables[name]
        hd = t[(t.scheme == "herlev3") & (t["class"] == "nucleus") & (t.metric == "hd95")]
        medians.append({"recipe": name, "images": int(hd.image.isin(common).sum()),
                        "nucleus_hd95_median_px": hd[hd.image.isin(common)].value.median()})  # fmt: skip
    pd.DataFrame(heads).to_csv(args.out / "heads.csv", index=False)
    pd.DataFrame(medians).to_csv(args.out / "medians.csv", index=False)
    print(f"{len(common)} images\n" + arms.round(3).to_string(index=False))
    print(pd.DataFrame(heads).round(4).to_string(index=False))
    print(pd.DataFrame(medians).round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
