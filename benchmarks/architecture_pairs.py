"""Architectures against the scale-true U-Net, image by image, on the folds they were scored on.

Reads ``evaluate`` outputs (one folder per arm, each a ``per_image.csv`` or ``.csv.gz``) and the
committed scale-true cross-validation (``results/herlev-scale-true-cv``, the U-Net reference),
keeps the reference's rows of the images each arm scored (the same test fold), and writes into
``--out``:

* ``paired.csv``: per arm and key, arm minus U-Net (:func:`papseg_utils.results.paired_gains`:
  mean difference with its bootstrap 95 % interval, median, Wilcoxon p with Holm over all rows);
* ``summary.csv``: per arm (and the reference on the same images), per-image mean and bootstrap
  95 % interval of each key;
* ``arms.csv``: per arm (the reference first, as ``unet``), its folder and what it is: the
  architecture, encoder, pre-training, seed and family of its fold-0 train arguments, the folds
  and images it was scored on, and its image head's accuracy, sensitivity and specificity
  (read by ``benchmarks/architecture_costs.py`` and :func:`papseg_utils.results.architecture_board`).

``--folds K [K ...]`` keeps only the images of those CV folds in every arm (so that arms scored
on more folds are compared with the others on the same images); without it each arm is paired
on every image it scored. The benchmark stops, before writing, when an arm's
``folds/foldK/split.json`` differs from the reference's for a fold K it was scored on, or when an
arm has no image in the folds asked for. Usage::

    PYTHONPATH=. python benchmarks/architecture_pairs.py --reference results/herlev-scale-true-cv \\
        --arm segformer-distilled=results/architectures/segformer-distilled-f0 \\
        --folds 0 1 --out results/architectures
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from papseg_utils.results.arm_folders import (
    check_same_splits,
    fold_record,
    head_accuracy,
    read_per_image,
    split_sha,
    start_name,
    summary_rows,
)


def _describe(name: str, folder: Path, table: pd.DataFrame) -> dict:
    from papseg_utils.models import architecture_family

    train = fold_record(folder, 0, "train_args.json")
    return {"arm": name, "folder": folder.as_posix(), "architecture": train["architecture"],
            "encoder": train["encoder"], "pretrained": start_name(folder, train["pretrained"]),
            "seed": train["seed"],
            "family": architecture_family(train["architecture"]),
            "folds": " ".join(str(f) for f in sorted(table["fold"].unique())),
            "images": table["image"].nunique(), "split_sha256": split_sha(folder, 0),
            **head_accuracy(folder, table)}  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, required=True, help="the U-Net CV's evaluate output")
    ap.add_argument("--arm", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--folds", type=int, nargs="+", metavar="K",
                    help="only the images of these CV folds (default: every image an arm scored)")  # fmt: skip
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        return _pairs(args)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(str(error)) from None


def _pairs(args) -> int:
    from papseg_utils.results import paired_gains

    reference = read_per_image(args.reference)
    tables, pairs, rows, arms, scored = {}, [], [], [], {}
    for spec in args.arm:
        name, _, folder = spec.partition("=")
        arm = read_per_image(Path(folder))
        if args.folds:
            arm = arm[arm["fold"].isin(args.folds)]
            if arm.empty:
                raise SystemExit(f"{name}: no image of folds {args.folds} in {folder}")
        scored[name] = (folder, arm)
        arms.append(_describe(name, Path(folder), arm))
        ref = f"unet on {name}'s images"
        tables[name] = arm
        tables[ref] = reference[reference.image.isin(arm.image.unique())]
        pairs.append((f"{name} - U-Net", ref, name))
        for label in (ref, name):
            rows += summary_rows(label, tables[label], n_boot=args.n_boot, seed=args.seed)
    check_same_splits(args.reference, scored)
    args.out.mkdir(parents=True, exist_ok=True)
    paired = paired_gains(tables, pairs, n_boot=args.n_boot, seed=args.seed)
    paired.to_csv(args.out / "paired.csv", index=False)
    pd.DataFrame(rows).to_csv(args.out / "summary.csv", index=False)
    first = pairs[0][1]  # the reference row of arms.csv: on the first arm's images
    arms.insert(0, _describe("unet", args.reference, tables[first]))
    pd.DataFrame(arms).to_csv(args.out / "arms.csv", index=False)
    print(paired.round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
