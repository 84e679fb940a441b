"""An arm's folder: an ``evaluate`` output with the records of the fold models it scored.

The arms of the studies at true scale (``results/architectures/<arm>``,
``results/data-efficiency/<arm>``, the cross-validations ``results/herlev-scale-true-cv``...) are
``evaluate`` outputs (``per_image.csv(.gz)``, ``image_labels.csv``, ``summary.csv``) with, per fold
model, ``folds/fold<K>/train_args.json`` and ``folds/fold<K>/split.json``
(``scripts/publish_cv.sh`` copies them), and ``start.json`` when the fold models started from
a weights file (the ``provenance.json`` that ``papseg distill`` wrote beside it). The benchmarks that pair arms image by image read them
through these functions, and stop when two arms' fold models were trained on different splits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd


def read_per_image(folder: str | Path) -> pd.DataFrame:
    """The arm's ``per_image.csv.gz`` (committed) or ``per_image.csv`` (``evaluate``'s own output).

    ``FileNotFoundError`` naming the folder and the command that writes the table.
    """
    folder = Path(folder)
    for name in ("per_image.csv.gz", "per_image.csv"):
        if (folder / name).is_file():
            return pd.read_csv(folder / name)
    raise FileNotFoundError(f"{folder}: no per_image.csv(.gz); write it with the evaluate command")


def fold_record(folder: str | Path, fold: int, name: str) -> dict:
    """``folds/fold<fold>/<name>`` of the arm (``train_args.json`` or ``split.json``), parsed.

    ``FileNotFoundError`` naming the file: every fold an arm was scored on needs both records.
    """
    f = Path(folder) / "folds" / f"fold{fold}" / name
    if not f.is_file():
        raise FileNotFoundError(
            f"{f}: not found; every fold an arm was scored on needs its {name} "
            "(scripts/publish_cv.sh copies it from the training folder)"
        )
    return json.loads(f.read_text())


def start_name(folder: str | Path, pretrained: str) -> str:
    """The pre-training an arm started from, as the study tables name it.

    ``pretrained`` (the train argument) is returned as is for a named source (``imagenet``,
    ``none``, ``distilled``). For a weights file it is read from the arm's ``start.json`` (the
    weights' ``papseg distill`` provenance): ``distilled-cytology`` when the encoder was distilled
    on Herlev images, else ``distilled``. ``FileNotFoundError`` naming the file to copy when the
    arm has none.
    """
    from ..models.loading import looks_like_path

    if not looks_like_path(pretrained):
        return pretrained
    path = Path(folder) / "start.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{folder}: its fold models started from the weights file {pretrained}; copy the "
            f"provenance.json written beside that file to {path} so the tables can name the start"
        )
    return "distilled-cytology" if json.loads(path.read_text()).get("cytology") else "distilled"


def split_sha(folder: str | Path, fold: int) -> str:
    """The SHA-256 of the arm's ``folds/fold<fold>/split.json`` (its ``sha256`` field)."""
    return fold_record(folder, fold, "split.json")["sha256"]


def check_same_splits(
    reference: str | Path, arms: Mapping[str, tuple[str | Path, pd.DataFrame]]
) -> None:
    """``ValueError`` unless every arm's split of every fold it scored is the reference's.

    ``arms`` maps an arm's name to its folder and its per-image table (whose ``fold`` column
    names the folds it was scored on).
    """
    for name, (folder, table) in arms.items():
        for fold in sorted(table["fold"].unique()):
            ours, theirs = split_sha(folder, fold), split_sha(reference, fold)
            if ours != theirs:
                raise ValueError(
                    f"{name}: fold {fold} was trained on another split than the reference "
                    f"({ours[:12]} vs {theirs[:12]}, the sha256 of folds/fold{fold}/split.json)"
                )


def summary_rows(label: str, table: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """Per-image mean and bootstrap 95 % interval of every key of ``GAIN_KEYS`` in ``table``.

    One dict per key the table has: ``arm`` (= ``label``), ``taxonomy``, ``class``, ``metric``,
    ``n`` images, ``mean``, ``low``, ``high`` (``summary.csv`` of the pairing benchmarks).
    """
    from papseg_utils.metrics.catalog import metric_values
    from papseg_utils.metrics.stats import bootstrap_mean_ci

    from .scorings import GAIN_KEYS

    rows = []
    for scheme, cls, metric in GAIN_KEYS:
        v = metric_values(table, cls, metric, scheme).dropna().to_numpy()
        if len(v):
            mean, lo, hi = bootstrap_mean_ci(v, n_boot=n_boot, seed=seed)
            rows.append({"arm": label, "taxonomy": scheme, "class": cls, "metric": metric,
                         "n": len(v), "mean": mean, "low": lo, "high": hi})  # fmt: skip
    return rows


def head_accuracy(folder: str | Path, table: pd.DataFrame) -> dict:
    """The image head's ``accuracy``, ``sensitivity`` and ``specificity`` on ``table``'s images.

    Read from the arm's ``image_labels.csv`` (None each when the arm has none: no image head).
    A cross-validation scores every fold, so the calls are kept to the images of ``table``.
    """
    from papseg_utils.evaluate import image_accuracy

    labels = Path(folder) / "image_labels.csv"
    head = {}
    if labels.is_file():
        calls = pd.read_csv(labels)
        head = image_accuracy(calls[calls.image.isin(table.image.unique())]) or {}
    return {k: head.get(k) for k in ("accuracy", "sensitivity", "specificity")}
