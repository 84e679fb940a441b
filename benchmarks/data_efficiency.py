"""Pretrained against scratch at each share of the training images, image by image, at true scale.

Reads the ``evaluate`` outputs of the data-efficiency arms (``studies/data-efficiency.yaml``),
one folder per arm, each with ``folds/fold<K>/train_args.json`` and ``split.json`` (its
architecture, encoder, pre-training, ``data_fraction`` and epochs come from fold 0's train
arguments), keeps the images of ``--folds`` and writes into ``--out``:

* ``arms.csv``: per arm its folder, architecture, encoder, pre-training, data fraction, the
  training images it used per fold (the nested subset stratified by diagnostic class,
  recomputed from the fold's ``split.json`` with :func:`papseg_utils.data.splits.fraction_subset`,
  as the ``train`` command draws it), epochs, folds, images, fold-0 split hash and its image
  head's accuracy, sensitivity and specificity on those images;
* ``summary.csv``: per arm, per-image mean and bootstrap 95 % interval of each key;
* ``paired.csv``: per architecture and fraction, the pretrained start minus scratch on the same
  images (:func:`papseg_utils.results.paired_gains`: mean difference with its bootstrap 95 %
  interval, median, Wilcoxon p with Holm over all rows), named ``"unet 10 %: ImageNet -
  scratch"``.

The benchmark stops, before writing, when an arm's split of a fold it was scored on differs from
the first arm's, when an arm has no image of the folds asked for, or when an architecture has at a
fraction anything but one scratch arm and one pretrained arm. Usage::

    PYTHONPATH=. python benchmarks/data_efficiency.py --folds 0 \\
        --arm unet-imagenet-100=results/herlev-scale-true-cv \\
        --arm unet-none-10=results/data-efficiency/unet-none-10 ... --out results/data-efficiency
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
    summary_rows,
)
from papseg_utils.results.efficiency import comparison_name


def training_images(folder: Path, fold: int, fraction: float) -> int:
    """The number of training images of the arm's fold model: the ``train`` command's subset."""
    from papseg_utils.data.splits import fraction_subset

    split = fold_record(folder, fold, "split.json")
    names = split["split"]["train"]
    if fraction >= 1:
        return len(names)
    groups = [n.split("/", 1)[0] for n in names]  # Herlev: the diagnostic class is the folder
    counted = {g: groups.count(g) for g in set(groups)}
    expected = {g: n for g, n in split["counts"]["train"].items() if g != "total"}
    if counted != expected:
        raise ValueError(
            f"{folder}: fold {fold}'s training names do not group by their folder as its "
            f"split.json counts them ({counted} vs {expected}); the subset cannot be recomputed"
        )
    return len(fraction_subset(names, groups, fraction, seed=split["seed"]))


def describe(name: str, folder: Path, table: pd.DataFrame) -> dict:
    """One ``arms.csv`` row: what the arm is and what it was scored on."""
    train = fold_record(folder, 0, "train_args.json")
    folds = sorted(int(f) for f in table["fold"].unique())
    fraction = float(train.get("data_fraction", 1.0))
    return {"arm": name, "folder": folder.as_posix(), "architecture": train["architecture"],
            "encoder": train["encoder"], "pretrained": train["pretrained"],
            "data_fraction": fraction,
            "train_images": " ".join(str(training_images(folder, k, fraction)) for k in folds),
            "epochs": train["num_epochs"], "seed": train["seed"],
            "folds": " ".join(map(str, folds)), "images": table["image"].nunique(),
            "split_sha256": split_sha(folder, 0), **head_accuracy(folder, table)}  # fmt: skip


def start_pairs(arms: pd.DataFrame) -> list[tuple[str, str, str]]:
    """``(comparison, scratch arm, pretrained arm)`` per architecture and fraction.

    ``ValueError`` when an architecture has at a fraction anything but one arm from scratch and
    one pretrained arm.
    """
    pairs = []
    for (architecture, fraction), group in arms.groupby(["architecture", "data_fraction"]):
        starts = group.set_index("pretrained")["arm"]
        if len(group) != 2 or "none" not in starts.index or starts.index.duplicated().any():
            raise ValueError(
                f"{architecture} at {100 * fraction:g} % of the training images: arms "
                f"{', '.join(group.arm)} (starts {', '.join(group.pretrained)}); a pair needs one "
                "arm from scratch (pretrained none) and one pretrained arm"
            )
        pre = next(s for s in starts.index if s != "none")
        pairs.append((comparison_name(architecture, fraction, pre), starts["none"], starts[pre]))
    return pairs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arm", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--folds", type=int, nargs="+", metavar="K", required=True,
                    help="the CV folds whose test images every arm is scored on")  # fmt: skip
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        return _efficiency(args)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(str(error)) from None


def _efficiency(args) -> int:
    from papseg_utils.results import paired_gains

    tables, rows, described, scored = {}, [], [], {}
    for spec in args.arm:
        name, _, folder = spec.partition("=")
        table = read_per_image(Path(folder))
        table = table[table["fold"].isin(args.folds)]
        if table.empty:
            raise ValueError(f"{name}: no image of folds {args.folds} in {folder}")
        tables[name], scored[name] = table, (folder, table)
        described.append(describe(name, Path(folder), table))
        rows += summary_rows(name, table, n_boot=args.n_boot, seed=args.seed)
    first = args.arm[0].partition("=")[2]
    check_same_splits(first, scored)
    images = {n: frozenset(t.image) for n, t in tables.items()}
    if len(set(images.values())) != 1:
        raise ValueError(f"the arms were scored on different images of folds {args.folds}")
    arms = pd.DataFrame(described)
    pairs = start_pairs(arms)
    args.out.mkdir(parents=True, exist_ok=True)
    arms.to_csv(args.out / "arms.csv", index=False)
    pd.DataFrame(rows).to_csv(args.out / "summary.csv", index=False)
    paired = paired_gains(tables, pairs, n_boot=args.n_boot, seed=args.seed)
    paired.to_csv(args.out / "paired.csv", index=False)
    print(paired.round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
