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


def _read(folder: Path) -> pd.DataFrame:
    for name in ("per_image.csv.gz", "per_image.csv"):
        if (folder / name).is_file():
            return pd.read_csv(folder / name)
    raise SystemExit(f"{folder}: no per_image.csv(.gz); write it with the evaluate command")


def _describe(name: str, folder: Path, table: pd.DataFrame) -> dict:
    import json

    from papseg_utils.evaluate import image_accuracy
    from papseg_utils.models import architecture_family

    train = json.loads((folder / "folds" / "fold0" / "train_args.json").read_text())
    labels = folder / "image_labels.csv"
    head = {}
    if labels.is_file():  # the head on the images of this table only (a CV scores every fold)
        calls = pd.read_csv(labels)
        head = image_accuracy(calls[calls.image.isin(table.image.unique())]) or {}
    return {"arm": name, "folder": folder.as_posix(), "architecture": train["architecture"],
            "encoder": train["encoder"], "pretrained": train["pretrained"], "seed": train["seed"],
            "family": architecture_family(train["architecture"]),
            "folds": " ".join(str(f) for f in sorted(table["fold"].unique())),
            "images": table["image"].nunique(), "split_sha256": _split_sha(folder, 0),
            **{k: head.get(k) for k in ("accuracy", "sensitivity", "specificity")}}  # fmt: skip


def _split_sha(folder: Path, fold: int) -> str:
    import json

    f = folder / "folds" / f"fold{fold}" / "split.json"
    if not f.is_file():
        raise SystemExit(f"{f}: not found; every fold an arm was scored on needs its split.json")
    return json.loads(f.read_text())["sha256"]


def _check_splits(reference: Path, specs: list[str], tables: dict) -> None:
    """Stop unless every arm's split of every fold it was scored on is the reference's."""
    for spec in specs:
        name, _, folder = spec.partition("=")
        for fold in sorted(tables[name]["fold"].unique()):
            ours, theirs = _split_sha(Path(folder), fold), _split_sha(reference, fold)
            if ours != theirs:
                raise SystemExit(
                    f"{name}: fold {fold} was trained on another split than the reference "
                    f"({ours[:12]} vs {theirs[:12]}, the sha256 of folds/fold{fold}/split.json)"
                )


def main(argv=None) -> int:
    from papseg_utils.metrics.catalog import metric_values
    from papseg_utils.metrics.stats import bootstrap_mean_ci
    from papseg_utils.results import paired_gains
    from papseg_utils.results.scorings import GAIN_KEYS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, required=True, help="the U-Net CV's evaluate output")
    ap.add_argument("--arm", action="append", required=True, metavar="NAME=DIR")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--folds", type=int, nargs="+", metavar="K",
                    help="only the images of these CV folds (default: every image an arm scored)")  # fmt: skip
    ap.add_argument("--n-boot", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    reference = _read(args.reference)
    tables, pairs, rows, arms = {}, [], [], []
    for spec in args.arm:
        name, _, folder = spec.partition("=")
        arm = _read(Path(folder))
        if args.folds:
            arm = arm[arm["fold"].isin(args.folds)]
            if arm.empty:
                raise SystemExit(f"{name}: no image of folds {args.folds} in {folder}")
        arms.append(_describe(name, Path(folder), arm))
        ref = f"unet on {name}'s images"
        tables[name] = arm
        tables[ref] = reference[reference.image.isin(arm.image.unique())]
        pairs.append((f"{name} - U-Net", ref, name))
        for label in (ref, name):
            for scheme, cls, metric in GAIN_KEYS:
                v = metric_values(tables[label], cls, metric, scheme).dropna().to_numpy()
                if len(v):
                    mean, lo, hi = bootstrap_mean_ci(v, n_boot=args.n_boot, seed=args.seed)
                    rows.append({"arm": label, "taxonomy": scheme, "class": cls, "metric": metric,
                                 "n": len(v), "mean": mean, "low": lo, "high": hi})  # fmt: skip
    _check_splits(args.reference, args.arm, tables)
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
