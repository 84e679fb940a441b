"""Score checkpoints on a dataset: one model, an ensemble, or the folds of a cross-validation.

This is the ``evaluate`` command and what the evaluation chapter calls::

    python -m papseg_utils evaluate CKPT [CKPT ...] --dataset herlev|folder|synthetic \\
        --data-dir DIR [--split test|val|train|all|FILE] [--tta] [--out DIR]

Which images each checkpoint scores
-----------------------------------
``--split all`` scores every image of the dataset with every checkpoint
(their probabilities averaged: an ensemble). Use it for data the models never
saw, e.g. another lab's images in the folder format (cross-dataset).

``--split test`` (``val``, ``train``) reads ``split.json`` beside each
checkpoint (the run folder that holds ``best/`` or ``last/``). A missing
``split.json`` is an error: scoring a freshly drawn split could put training
images in the "test" set. Then

* all checkpoints name the same test images: they are scored as an ensemble;
* the checkpoints' test parts are disjoint (the folds of a k-fold
  cross-validation): every image is scored by the model(s) that did not
  train on it, and the union is the cross-validated score;
* anything else (overlapping but different test parts) is refused, because some
  model would be scored on images it trained on.

``--split FILE`` takes the ``test`` part of that split JSON for every checkpoint.

Predictions are exactly those of the ``predict`` command
(:func:`papseg_utils.inference.predict_with_config`: letterboxed as in
training, probabilities mapped back to the original size), averaged over
checkpoints. A checkpoint trained with an image head (``--image-head
health``) also gives each image a probability of holding an unhealthy cell;
on Herlev the cells of its segmentation are then coloured by it
(:func:`papseg_utils.postprocess.cells_from_image_head`) and scored in the
``paper_cells`` taxonomy as well.

Outputs (``--out``)
-------------------
``per_image.csv``
    The tidy table of :func:`papseg_utils.metrics.evaluate` (one row per
    image x class x metric) with ``scheme`` and ``fold`` columns; a ``macro``
    class holds each image's mean over the foreground classes.
``summary.csv`` / ``summary.md``
    Per class and metric: the per-image mean with its bootstrap 95 % interval,
    the median, and the micro value (pixels pooled over images).
``image_labels.csv``
    With an image head: each image's group (diagnostic class), predicted class and probabilities.
``summary.png``
    Per-class distributions of Dice, IoU and HD95.
``scoring.json``
    The checkpoints, their hashes, the images scored and the options.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from papseg_utils.inference import image_probabilities, predict_with_config
from papseg_utils.labels import LabelScheme, get_scheme
from papseg_utils.metrics import bootstrap_ci, evaluate, summarise

log = logging.getLogger(__name__)

SPLIT_PARTS: tuple[str, ...] = ("train", "val", "test", "all")
SUMMARY_METRICS: tuple[str, ...] = ("dice", "iou", "hd95", "nsd", "bf1")


class ScoringError(ValueError):
    """Checkpoints, split or data that cannot be scored together; the message says why and the fix."""


@dataclass
class Member:
    """One checkpoint: the model in eval mode, its ``config.json``, and its run's split (or None)."""

    path: Path
    model: torch.nn.Module
    config: dict
    split: dict[str, list[str]] | None = None
    train_args: dict = field(default_factory=dict)
    split_info: dict = field(default_factory=dict)  # what split.json says it was made for

    @property
    def scheme(self) -> LabelScheme:
        return LabelScheme.from_dict(self.config["scheme"])

    @property
    def image_labels(self) -> list[str]:
        return list(self.config.get("image_labels") or [])


def load_members(checkpoints: Sequence[str | Path], device: str = "cpu") -> list[Member]:
    """Load every checkpoint folder (or run folder: its ``best/``, else ``last/``).

    All must predict the same label scheme; a different scheme is an error
    naming both checkpoints.
    """
    from papseg_utils.data.splits import read_split
    from papseg_utils.train.checkpoint import load_model

    if not checkpoints:
        raise ScoringError("no checkpoint given; pass one or more checkpoint folders")
    members: list[Member] = []
    for c in checkpoints:
        folder = _checkpoint_folder(Path(c))
        model, config = load_model(folder, device=device)
        run = folder.parent
        split, info = None, {}
        if (run / "split.json").is_file():
            try:
                split, info = read_split(run / "split.json")
            except ValueError as err:
                raise ScoringError(str(err)) from None
        args_file = run / "train_args.json"
        train_args = json.loads(args_file.read_text()) if args_file.is_file() else {}
        members.append(Member(folder, model, config, split, train_args, info))
    first = members[0]
    for m in members[1:]:
        if m.scheme.classes != first.scheme.classes:
            raise ScoringError(
                f"{m.path} predicts {list(m.scheme.classes)} but {first.path} predicts "
                f"{list(first.scheme.classes)}; an ensemble needs one label scheme"
            )
    return members


def _checkpoint_folder(path: Path) -> Path:
    """:func:`~papseg_utils.train.checkpoint.resolve_checkpoint`, with the command's message."""
    from papseg_utils.train.checkpoint import resolve_checkpoint

    try:
        return resolve_checkpoint(path)
    except FileNotFoundError:
        raise ScoringError(
            f"{path}: no checkpoint here (no config.json in it, best/ or last/). Pass a checkpoint "
            "folder written by `python -m papseg_utils train` or the fine-tuning notebook."
        ) from None


def run_data(
    member: Member,
    dataset: str = "",
    scheme: str = "",
    num_images: int = 0,
    image_size: int = 0,
    seed: int | None = None,
) -> dict:
    """The data a checkpoint was trained on, to score it on the same images.

    Each value is the argument when given (non-empty, non-zero, not None),
    else the checkpoint's record: ``config.json``'s ``data`` (written by
    :func:`papseg_utils.train.fit` after
    :func:`~papseg_utils.train.recipe.prepare_training`), then the run's
    ``train_args.json`` (the ``train`` command), then ``config.json``'s
    ``image_size`` and ``train_config.seed``.

    Returns ``{"dataset", "scheme", "num_images", "image_size", "seed"}``;
    ``scheme`` falls back to the checkpoint's label scheme, ``dataset`` to
    ``"synthetic"``. For synthetic data a missing ``num_images`` or
    ``image_size`` raises :class:`ScoringError` (the same names and sizes
    drawn differently would be scored as if they were the run's test images).
    """
    record = dict(member.config.get("data") or {})
    args = member.train_args
    train_config = member.config.get("train_config") or {}

    def pick(given, *recorded):
        if given not in ("", 0, None):
            return given
        return next((v for v in recorded if v not in ("", None)), None)

    out = {
        "dataset": pick(dataset, record.get("dataset"), args.get("dataset")) or "synthetic",
        "scheme": pick(scheme, record.get("scheme"), member.scheme.name),
        "num_images": pick(num_images, record.get("num_images"), args.get("num_train_images")),
        "image_size": pick(
            image_size,
            record.get("image_size"),
            args.get("image_size"),
            member.config.get("image_size"),
        ),
        "seed": seed
        if seed is not None
        else pick(None, record.get("seed"), args.get("seed"), train_config.get("seed")) or 0,
    }
    if out["dataset"] == "synthetic":
        missing = [k for k in ("num_images", "image_size") if not out[k]]
        if missing:
            raise ScoringError(
                f"{member.path}: the checkpoint does not record the synthetic data's "
                f"{' and '.join(missing)}; give the values of the fine-tuning run"
            )
    return out


def load_run_samples(member: Member, data_dir: str = "", **overrides) -> tuple[list, dict]:
    """The samples :func:`run_data` describes, and that description.

    ``data_dir`` is the folder of a dataset on disk (empty: its environment
    variable, else its default location); ``overrides`` go to :func:`run_data`.
    """
    from papseg_utils.data import load_dataset

    data = run_data(member, **overrides)
    kw = {}
    if data["dataset"] == "synthetic":
        kw = {"n": data["num_images"], "seed": data["seed"], "image_size": data["image_size"]}
    samples = load_dataset(data["dataset"], root=data_dir or None, scheme=data["scheme"], **kw)
    return samples, data


def assign_images(
    members: Sequence[Member], names: Sequence[str], split: str = "test"
) -> dict[str, list[int]]:
    """Which members score which image: ``{image name: [member indices]}`` (in ``names`` order).

    ``split`` is ``"all"``, a part name (``"train"``, ``"val"``, ``"test"``,
    read from each member's ``split.json``) or the path of a split JSON (its
    ``test`` part, for every member). See the module docstring for the rules.
    """
    from papseg_utils.data.splits import load_split

    everyone = list(range(len(members)))
    if split == "all":
        return {n: everyone for n in names}
    if split not in SPLIT_PARTS:
        path = Path(split)
        if not path.is_file():
            raise ScoringError(
                f"--split {split!r}: neither one of {list(SPLIT_PARTS)} nor an existing split file"
            )
        try:
            wanted = load_split(path)["test"]
        except (ValueError, KeyError) as err:
            raise ScoringError(f"--split: {err}") from None
        return _present({n: everyone for n in wanted}, names, f"the test part of {path}")
    missing = [str(m.path.parent) for m in members if m.split is None]
    if missing:
        raise ScoringError(
            f"--split {split}: no split.json beside {', '.join(missing)}. Scoring a new split "
            "could count training images as test images. Pass the run folder that training wrote, "
            "--split FILE with the split used in training, or --split all for data no model saw."
        )
    parts = [list(m.split[split]) for m in members]  # type: ignore[index]
    if not any(parts):
        raise ScoringError(f"--split {split}: the {split} part of every split.json is empty")
    if all(set(p) == set(parts[0]) for p in parts):
        return _present({n: everyone for n in parts[0]}, names, f"the {split} part of split.json")
    owners: dict[str, list[int]] = {}
    for i, part in enumerate(parts):
        for n in part:
            owners.setdefault(n, []).append(i)
    shared = [n for n, who in owners.items() if len(who) > 1]
    if shared:
        raise ScoringError(
            f"the checkpoints' {split} parts differ but overlap ({len(shared)} images in several, "
            f"e.g. {shared[0]!r}): some model would be scored on images it trained on. Score them "
            "one at a time, or pass checkpoints of one run (ensemble) or of disjoint folds (CV)."
        )
    return _present(owners, names, f"the {split} parts of the folds' split.json")


def _present(wanted: dict[str, list[int]], names: Sequence[str], what: str) -> dict[str, list[int]]:
    have = set(names)
    absent = [n for n in wanted if n not in have]
    if absent:
        raise ScoringError(
            f"{len(absent)} of {len(wanted)} images in {what} are not in the dataset "
            f"(e.g. {absent[0]!r}); is --data-dir the folder the models were trained on?"
        )
    return {n: wanted[n] for n in names if n in wanted}


@dataclass
class Scores:
    """What :func:`score` measured. ``tables`` maps a scheme name to its tidy per-image table."""

    tables: dict[str, pd.DataFrame]
    image_labels: pd.DataFrame | None
    assignment: dict[str, list[int]]
    preds: dict[str, np.ndarray]


@dataclass
class Predictions:
    """Per image: predicted labels (H, W) uint8, scoring member (``-1``: several), image-head row."""

    preds: dict[str, np.ndarray]
    fold: dict[str, int]
    head_rows: list[dict]


def predict(
    members: Sequence[Member],
    samples: Sequence,
    assignment: dict[str, list[int]],
    tta: bool | str = False,
    tile_size: int | None = None,
    progress: bool = False,
    pixel_size_um: float | None = None,
) -> Predictions:
    """Predict every assigned image with its members, probabilities averaged over them.

    Each member predicts as the ``predict`` command does
    (:func:`papseg_utils.inference.predict_with_config`): a scale-true member resamples the
    image from ``pixel_size_um`` (None: its training images' pixel size) to its target
    spacing; a letterbox member letterboxes it, or with ``tile_size`` > 0 predicts at native
    resolution in tiles.
    """
    by_name = {s.name: s for s in samples}
    preds: dict[str, np.ndarray] = {}
    fold: dict[str, int] = {}
    rows = []
    for k, (name, who) in enumerate(assignment.items()):
        s = by_name[name]
        probs = np.mean(
            [
                predict_with_config(
                    members[i].model,
                    s.image,
                    members[i].config,
                    tile_size=tile_size or None,
                    tta=tta,
                    pixel_size_um=pixel_size_um,
                )
                for i in who
            ],
            axis=0,
        )
        preds[name] = probs.argmax(0).astype(np.uint8)
        fold[name] = who[0] if len(who) == 1 else -1
        heads = [
            image_probabilities(
                members[i].model, s.image, members[i].config, tta, pixel_size_um=pixel_size_um
            )  # fmt: skip
            for i in who
        ]
        if all(h is not None for h in heads):
            p = np.mean(heads, axis=0)
            rows.append(
                {
                    "image": name,
                    "group": s.group,
                    "fold": fold[name],
                    **_head_row(p, members[who[0]]),
                }
            )
        if progress and (k + 1) % 50 == 0:
            print(f"  {k + 1}/{len(assignment)} images", file=sys.stderr, flush=True)
    return Predictions(preds, fold, rows)


def score(
    members: Sequence[Member],
    samples: Sequence,
    assignment: dict[str, list[int]],
    tta: bool | str = False,
    paper_masks: dict[str, np.ndarray] | None = None,
    spacing_um: float | None = None,
    empty_policy: str = "penalty",
    progress: bool = False,
    tile_size: int | None = None,
    pixel_size_um: float | None = None,
) -> Scores:
    """Predict (:func:`predict`) and score every assigned image.

    Parameters
    ----------
    members : from :func:`load_members`.
    samples : the dataset (``Sample`` list); only assigned names are used.
    assignment : from :func:`assign_images`.
    tta : False, True/``"flips"`` or ``"d4"``.
    paper_masks : optional ``{name: (H, W) paper_cells mask}``; with an image
        head of kind health, the cells are also scored in ``paper_cells``.
    spacing_um, empty_policy : passed to :func:`papseg_utils.metrics.evaluate` (a
        ``spacing_um`` gives distances in um instead of px).
    tile_size, pixel_size_um : see :func:`predict` (the images' pixel size, which scale-true
        members resample from).

    Returns
    -------
    Scores
        ``tables[scheme]`` has a ``fold`` column (the scoring member's index,
        or ``-1`` for an ensemble of several) and per-image ``macro`` rows.
    """
    from papseg_utils.postprocess import cells_from_image_head

    scheme = members[0].scheme
    by_name = {s.name: s for s in samples}
    health = all(m.image_labels == ["healthy", "unhealthy"] for m in members)
    out = predict(members, samples, assignment, tta=tta, tile_size=tile_size, progress=progress,
                  pixel_size_um=pixel_size_um)  # fmt: skip
    preds, fold, rows = out.preds, out.fold, out.head_rows
    names = list(preds)
    masks = [by_name[n].mask for n in names]
    tables = {scheme.name: _table(evaluate([preds[n] for n in names], masks, scheme, spacing_um,
                                           empty_policy, names=names), scheme, fold)}  # fmt: skip
    labels = pd.DataFrame(rows) if rows else None
    if labels is not None and health and paper_masks is not None:
        p_unhealthy = dict(zip(labels.image, labels.p_unhealthy, strict=True))
        cells = [cells_from_image_head(preds[n], p_unhealthy[n]) for n in names]
        paper = get_scheme("paper_cells")
        tables[paper.name] = _table(
            evaluate(
                cells, [paper_masks[n] for n in names], paper, spacing_um, empty_policy, names=names
            ),
            paper,
            fold,
        )
    return Scores(tables, labels, dict(assignment), preds)


def _head_row(p: np.ndarray, member: Member) -> dict:
    names = member.image_labels or [str(i) for i in range(len(p))]
    row = {f"p_{n}": float(v) for n, v in zip(names, p, strict=True)}
    row["predicted"] = names[int(np.argmax(p))]
    return row


def _table(df: pd.DataFrame, scheme: LabelScheme, fold: dict[str, int]) -> pd.DataFrame:
    """Add ``scheme``/``fold`` columns and per-image ``macro`` rows (mean over foreground classes)."""
    fg = list(scheme.classes[1:])
    body = df[df["class"].isin(fg) & ~df.metric.isin(("tp", "fp", "fn"))]
    macro = (
        body.groupby(["image", "metric"], sort=False)
        .agg(value=("value", "mean"), unit=("unit", "first"))
        .reset_index()
        .assign(**{"class": "macro", "empty_case": ""})
    )
    out = pd.concat([df, macro[df.columns]], ignore_index=True)
    out["scheme"] = scheme.name
    out["fold"] = out["image"].map(fold).astype(int)
    out.attrs.update(df.attrs)
    return out


def summary(table: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per class (and ``macro``) and metric: mean, bootstrap 95 % CI, median, micro value.

    Columns ``scheme, class, metric, mean, low, high, median, micro, unit, n, n_nan``.
    ``micro`` pools pixels over images (overlap metrics only; NaN otherwise).
    """
    body = table[table.metric.isin(SUMMARY_METRICS)]
    ci = bootstrap_ci(body, n_boot=n_boot, seed=seed)
    med = body.groupby(["class", "metric"], sort=False)["value"].median().rename("median")
    ci = ci.join(med, on=["class", "metric"])
    raw = table[table["class"] != "macro"]
    micro = summarise(raw, "micro")
    micro["class"] = micro["class"].where(micro["class"] != "macro", "macro")
    micro = micro[micro.reduction.isin(["micro", "micro+macro"])].set_index(["class", "metric"])[
        "value"
    ]
    ci["micro"] = [
        micro.get((c, m), np.nan) for c, m in zip(ci["class"], ci["metric"], strict=True)
    ]
    ci.insert(0, "scheme", table["scheme"].iloc[0] if len(table) else "")
    return ci[
        [
            "scheme",
            "class",
            "metric",
            "mean",
            "low",
            "high",
            "median",
            "micro",
            "unit",
            "n",
            "n_nan",
        ]
    ]


def health_truth(groups: pd.Series) -> pd.Series:
    """Each image's true health, from its group: True unhealthy, False healthy, NA unknown.

    A group is a diagnostic label when it is a Herlev class (the three normal
    classes healthy, the four dysplasia / carcinoma classes unhealthy) or, in a
    folder dataset's ``groups.csv``, ``healthy`` / ``unhealthy`` (also ``normal`` /
    ``abnormal``). Anything else (a folder without ``groups.csv`` puts every image
    in ``all``) says nothing about health, and is NA, never "healthy".
    """
    from papseg_utils.data.herlev import HEALTHY_CLASSES, UNHEALTHY_CLASSES

    healthy = {*HEALTHY_CLASSES, "healthy", "normal"}
    unhealthy = {*UNHEALTHY_CLASSES, "unhealthy", "abnormal"}
    key = groups.astype(str).str.lower()
    return key.map(lambda g: True if g in unhealthy else False if g in healthy else pd.NA)


def image_accuracy(labels: pd.DataFrame) -> dict[str, float] | None:
    """Accuracy, sensitivity and specificity of the health head (unhealthy = positive).

    Computed on the images whose group is a diagnostic label (:func:`health_truth`);
    ``None`` when no image has one. ``n`` is the number of labelled images and
    ``unlabelled`` the number left out.
    """
    truth_all = health_truth(labels["group"])
    known = truth_all.notna()
    if not known.any():
        return None
    truth = truth_all[known].astype(bool)
    called = labels.loc[known, "predicted"] == "unhealthy"
    return {
        "n": int(known.sum()),
        "unlabelled": int((~known).sum()),
        "accuracy": float((truth == called).mean()),
        "sensitivity": float(called[truth].mean()) if truth.any() else float("nan"),
        "specificity": float((~called[~truth]).mean()) if (~truth).any() else float("nan"),
    }


def head_line(acc: dict | None, n_images: int) -> str:
    """The summary's sentence on the health head: its accuracy, or why there is none."""
    if acc is None:
        return (
            f"Image head (healthy / unhealthy): none of the {n_images} images has a diagnostic "
            "label (a Herlev class, or healthy / unhealthy in groups.csv), so no accuracy is "
            "computed; the predicted labels are in image_labels.csv."
        )
    left = (
        f" ({acc['unlabelled']} images without a diagnostic label left out)"
        if acc["unlabelled"]
        else ""
    )
    return (
        f"Image head (healthy / unhealthy), {acc['n']} images{left}: accuracy "
        f"{acc['accuracy']:.3f}, sensitivity {acc['sensitivity']:.3f}, specificity "
        f"{acc['specificity']:.3f}"
    )


def markdown(
    summaries: Sequence[pd.DataFrame], metrics: Sequence[str] = ("dice", "iou", "hd95")
) -> str:
    """A compact markdown table of :func:`summary` outputs: mean [low, high], median, micro."""
    lines = [
        "| taxonomy | class | metric | per-image mean [95 % CI] | median | micro |",
        "|---|---|---|---|---|---|",
    ]
    for s in summaries:
        for r in s[s.metric.isin(metrics)].itertuples():
            micro = "" if np.isnan(r.micro) else f"{r.micro:.3f}"
            lines.append(
                f"| {r.scheme} | {r._2} | {r.metric} ({r.unit}) | {r.mean:.3f} [{r.low:.3f}, {r.high:.3f}] "
                f"| {r.median:.3f} | {micro} |"
            )
    return "\n".join(lines) + "\n"


def write_outputs(
    scores: Scores, out: Path, members: Sequence[Member], options: dict, n_boot: int = 2000
) -> dict:
    """Write the files listed in the module docstring to ``out``; return the summary dict."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from papseg_utils.train.checkpoint import sha256_file
    from papseg_utils.viz.evaluation import plot_metric_distributions

    out.mkdir(parents=True, exist_ok=True)
    summaries = [
        summary(t, n_boot=n_boot, seed=int(options.get("seed", 0))) for t in scores.tables.values()
    ]
    pd.concat(scores.tables.values(), ignore_index=True).to_csv(out / "per_image.csv", index=False)
    pd.concat(summaries, ignore_index=True).to_csv(out / "summary.csv", index=False)
    text = markdown(summaries)
    result: dict = {"options": options, "n_images": len(scores.assignment)}
    if scores.image_labels is not None:
        scores.image_labels.to_csv(out / "image_labels.csv", index=False)
        if "p_unhealthy" in scores.image_labels:
            acc = image_accuracy(scores.image_labels)
            result["image_head"] = acc
            text += "\n" + head_line(acc, len(scores.image_labels)) + "\n"
    (out / "summary.md").write_text(text, encoding="utf-8")
    first = next(iter(scores.tables.values()))
    scheme = members[0].scheme
    fig = plot_metric_distributions(
        first[first["class"] != "macro"], scheme, metrics=("dice", "iou", "hd95")
    )
    fig.savefig(out / "summary.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    result["checkpoints"] = [
        {"path": _relative(m.path), "sha256": m.config.get("checkpoint_sha256")
         or sha256_file(m.path / "model.safetensors"), "epoch": m.config.get("epoch")}
        for m in members
    ]  # fmt: skip
    result["mode"] = _mode(scores.assignment, len(members))
    (out / "scoring.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    return result


def _relative(path: Path) -> str:
    """``path`` relative to the working folder when below it, else its last three parts."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(Path(*path.resolve().parts[-3:]))


def _mode(assignment: dict[str, list[int]], n_members: int) -> str:
    if n_members == 1:
        return "single model"
    sizes = {len(v) for v in assignment.values()}
    return (
        "cross-validation (each image by the fold that did not train on it)"
        if sizes == {1}
        else "ensemble"
    )


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m papseg_utils evaluate",
        description="Score checkpoints (one, an ensemble, or CV folds) on a dataset: per-image "
        "Dice, IoU, HD95 and more, bootstrap 95 % intervals, micro averages and a figure.",
        epilog="Example: python -m papseg_utils evaluate runs/fold*/last --dataset herlev --split test --tta --out results/cv",
    )
    ap.add_argument(
        "checkpoints", nargs="+", help="checkpoint folders (or run folders holding best/ or last/)"
    )
    ap.add_argument(
        "--dataset",
        default="herlev",
        help='"herlev", "folder", "synthetic" or another registered dataset',
    )
    ap.add_argument(
        "--data-dir",
        default="",
        help="data folder (herlev: default $PAPSEG_HERLEV_DIR or the default location)",
    )
    ap.add_argument(
        "--split",
        default="test",
        help='"test", "val", "train" (from split.json beside each checkpoint), "all", or a split JSON file',
    )
    ap.add_argument(
        "--tta",
        nargs="?",
        const="flips",
        default="",
        help='average over flips ("flips", the default when given) or "d4"',
    )
    ap.add_argument(
        "--out", default="", help="output folder (default: evaluation/ in the current folder)"
    )
    ap.add_argument(
        "--gray",
        default="background",
        choices=("background", "ignore"),
        help="Herlev's gray border zone",
    )
    ap.add_argument(
        "--pixel-size",
        default=None,
        metavar="UM|auto",
        help="pixel size of the images in um/px, or auto to estimate it; scale-true checkpoints "
        "resample from it (default: the dataset's, Herlev 0.201 or a folder's classes.yaml)",
    )
    ap.add_argument(
        "--distance-unit",
        default="px",
        choices=("px", "um"),
        help="unit of HD95 and the other distances: px, or um (px times the pixel size)",
    )
    ap.add_argument(
        "--spacing-um",
        default=None,
        help="deprecated: the same as --pixel-size UM --distance-unit um",
    )
    ap.add_argument("--empty-policy", default="penalty", choices=("penalty", "nan"))
    ap.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    ap.add_argument("--device", default="auto", help='"auto", "cpu", "cuda" or "mps"')
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    return ap


def _load_samples(args, members: Sequence[Member], scheme: str):
    from papseg_utils.data import load_dataset

    kw: dict = {}
    if args.dataset == "herlev":
        kw["gray"] = args.gray
    if args.dataset == "synthetic":  # regenerate the images the run trained and tested on
        d = run_data(members[0], dataset="synthetic")
        kw = {"n": d["num_images"], "seed": d["seed"], "image_size": d["image_size"]}
    if args.dataset == "folder":
        scheme = None  # its classes.yaml, checked against the checkpoint by check_scheme
    try:
        return load_dataset(args.dataset, root=args.data_dir or None, scheme=scheme, **kw)
    except KeyError as err:  # the dataset cannot give its masks in the checkpoint's scheme
        classes = ", ".join(members[0].scheme.classes)
        raise ScoringError(
            f"{members[0].path} predicts the scheme {scheme!r} ({classes}), which dataset "
            f"{args.dataset!r} does not provide ({err.args[0] if err.args else err}); score it on "
            "the data it was trained on, or score a checkpoint trained on this dataset"
        ) from None


def check_options(args) -> None:
    """Refuse bad option values before any checkpoint or data is read (ScoringError)."""
    from papseg_utils.data.registry import list_datasets
    from papseg_utils.inference import D4

    datasets = list_datasets()
    if args.dataset not in datasets:
        raise ScoringError(f"--dataset {args.dataset!r}: unknown; valid: {', '.join(datasets)}")
    if args.dataset == "folder" and not args.data_dir:
        raise ScoringError(
            "--dataset folder needs --data-dir PATH: the folder holding classes.yaml, images/ "
            "and masks/"
        )
    if args.tta not in ("", "flips", "d4"):
        raise ScoringError(
            f"--tta {args.tta!r}: use --tta (the 4 flips), --tta flips or --tta d4 (the "
            f"{len(D4)} flips and rotations)"
        )
    if args.n_boot < 1:
        raise ScoringError(
            f"--n-boot {args.n_boot} must be >= 1 bootstrap resamples (default 2000)"
        )
    out = Path(args.out or "evaluation")
    if out.exists() and not out.is_dir():
        raise ScoringError(f"--out {out} is a file; pass a folder for the scores")
    _check_pixel_options(args)


def check_scheme(args, members: Sequence[Member]) -> str:
    """The scheme to load the data in: the checkpoint's, checked against a folder's classes.yaml."""
    from papseg_utils.data.errors import DatasetError
    from papseg_utils.data.registry import dataset_scheme

    ours = members[0].scheme
    if args.dataset != "folder":
        return ours.name
    try:
        theirs = dataset_scheme("folder", args.data_dir)
    except DatasetError as err:
        raise ScoringError(str(err)) from None
    if theirs.classes != ours.classes:
        raise ScoringError(
            f"{Path(args.data_dir) / 'classes.yaml'} defines the scheme {theirs.name!r} "
            f"({', '.join(theirs.classes)}), but {members[0].path} predicts {ours.name!r} "
            f"({', '.join(ours.classes)}); score a checkpoint trained on this folder's classes, "
            "or a folder whose classes.yaml has the checkpoint's classes"
        )
    return theirs.name


def check_split_data(args, members: Sequence[Member]) -> None:
    """Refuse ``--split PART`` / ``--split FILE`` on another dataset than the split was made for.

    A run's ``split.json`` records its dataset and scheme (older ones: the
    checkpoint's ``data`` record or ``train_args.json``). Scoring its test part on
    another dataset would score whichever images happen to share file names.
    """
    from papseg_utils.data.splits import read_split

    if args.split == "all":
        return
    if args.split in SPLIT_PARTS:
        recorded = [(m.path.parent / "split.json", _made_for(m)) for m in members]
    else:
        recorded = [(Path(args.split), _split_file_info(Path(args.split), read_split))]
    wanted = {"dataset": args.dataset}
    if args.dataset == "folder":
        wanted["scheme"] = check_scheme(args, members)
    for path, info in recorded:
        clash = {k: info[k] for k in wanted if info.get(k) and info[k] != wanted[k]}
        if clash:
            made = ", ".join(f"{k} {v!r}" for k, v in info.items() if k in wanted and v)
            asked = ", ".join(f"{k} {wanted[k]!r}" for k in clash)
            raise ScoringError(
                f"--split {args.split}: {path} was made for {made}, not {asked}; its images "
                f"are not this dataset's. Score on the dataset it was made for (--dataset "
                f"{info['dataset']}), or pass --split all for data no model saw"
            )


def _made_for(member: Member) -> dict:
    record = {**(member.train_args or {}), **(member.config.get("data") or {})}
    return {
        "dataset": member.split_info.get("dataset") or record.get("dataset"),
        "scheme": member.split_info.get("scheme") or record.get("scheme"),
    }


def _split_file_info(path: Path, read_split) -> dict:
    if not path.is_file():
        return {}
    try:
        return read_split(path)[1]
    except ValueError as err:
        raise ScoringError(f"--split: {err}") from None


def _check_pixel_options(args) -> None:
    """Parse ``--pixel-size`` / ``--spacing-um`` before any work (ScoringError names the option)."""
    from papseg_utils.data.spacing import PixelSizeError
    from papseg_utils.scale_estimate import parse_pixel_size

    try:
        args.pixel_size = parse_pixel_size(args.pixel_size)
        args.spacing_um = parse_pixel_size(args.spacing_um, "--spacing-um")
    except PixelSizeError as err:
        raise ScoringError(str(err)) from None
    if args.spacing_um == "auto":
        raise ScoringError("--spacing-um takes um/px; use --pixel-size auto --distance-unit um")


def _pixel_size(args, members: Sequence[Member], samples, assignment) -> dict:
    """The images' pixel size (``--pixel-size``, ``auto``, the dataset's, or assumed); said once."""
    from papseg_utils.data.registry import dataset_pixel_size
    from papseg_utils.scale_estimate import resolve_pixel_size

    if args.spacing_um is not None:
        print("evaluate: --spacing-um is deprecated; it means --pixel-size "
              f"{args.spacing_um} --distance-unit um", file=sys.stderr)  # fmt: skip
        if args.pixel_size is None:
            args.pixel_size = args.spacing_um
        args.distance_unit = "um"
    known = None
    if args.dataset != "synthetic":
        known = dataset_pixel_size(args.dataset, args.data_dir or None)
    else:  # the fields the run was trained on
        known = dataset_pixel_size("synthetic", field_px=run_data(members[0])["image_size"])
    m = members[0]
    todo = [s.image for s in samples if s.name in assignment]
    pixel = resolve_pixel_size(
        args.pixel_size, m.config, m.scheme, lambda: todo,
        lambda im, px: predict_with_config(m.model, im, m.config, pixel_size_um=px).argmax(0),
        known=known,
    )  # fmt: skip
    if pixel["note"]:
        print(f"evaluate: note: {pixel['note']}", file=sys.stderr)
    return pixel


def _distance_spacing(args, pixel: dict) -> float | None:
    """The spacing that distances are measured in: None (px) or the pixel size (um)."""
    if args.distance_unit != "um":
        return None
    value = pixel["pixel_size_um"] or (args.pixel_size if args.pixel_size != "auto" else None)
    if value is None:
        raise ScoringError(
            "--distance-unit um needs the pixel size: pass --pixel-size UM (the dataset has none)"
        )
    return float(value)


def run(args: argparse.Namespace) -> dict:
    """The ``evaluate`` command on parsed arguments; returns what ``scoring.json`` holds."""
    from papseg_utils.data.registry import resolve_root
    from papseg_utils.device import resolve_device

    check_options(args)
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        raise ScoringError(f"--device: {err}") from None
    members = load_members(args.checkpoints, device=str(device))
    scheme = check_scheme(args, members)
    check_split_data(args, members)
    out = Path(args.out or "evaluation").resolve()
    root = (
        resolve_root(args.dataset, args.data_dir or None) if args.dataset != "synthetic" else None
    )
    if root is not None and (out == root.resolve() or root.resolve() in out.parents):
        raise ScoringError(
            f"--out {out} lies inside the data folder {root}; choose a folder outside it"
        )
    samples = _load_samples(args, members, scheme)
    assignment = assign_images(members, [s.name for s in samples], args.split)
    paper = None
    if args.dataset == "herlev" and any(
        m.image_labels == ["healthy", "unhealthy"] for m in members
    ):
        paper_samples = _load_samples(args, members, "paper_cells")
        paper = {s.name: s.mask for s in paper_samples if s.name in assignment}
    pixel = _pixel_size(args, members, samples, assignment)
    print(f"scoring {len(assignment)} images with {len(members)} checkpoint(s): "
          f"{_mode(assignment, len(members))}", flush=True)  # fmt: skip
    scores = score(members, samples, assignment, tta=args.tta or False, paper_masks=paper,
                   spacing_um=_distance_spacing(args, pixel), empty_policy=args.empty_policy,
                   progress=True, pixel_size_um=pixel["pixel_size_um"])  # fmt: skip
    # no machine paths in the record: the data folder and output folder are left out
    options = {k: v for k, v in vars(args).items() if k not in ("checkpoints", "data_dir", "out")}
    options["pixel_size"] = pixel
    result = write_outputs(scores, out, members, options, n_boot=args.n_boot)
    print((out / "summary.md").read_text(encoding="utf-8"))
    print(f"wrote {out}")
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m papseg_utils evaluate``; returns the exit code (2 for bad input, 130 on Ctrl-C)."""
    from papseg_utils import signals
    from papseg_utils.cli_text import for_command_line
    from papseg_utils.data.errors import DatasetError
    from papseg_utils.train.checkpoint import CheckpointError

    args = build_parser().parse_args(argv)
    signals.stop_on_signals()
    logging.basicConfig(level=logging.WARNING)
    try:
        run(args)
    except KeyboardInterrupt:
        print(f"interrupted ({signals.received()}): nothing else was written", file=sys.stderr)
        return 130
    except (ScoringError, DatasetError, CheckpointError, FileNotFoundError) as err:
        print(f"error: {for_command_line(str(err))}", file=sys.stderr)
        return 2
    except OSError as err:  # an output folder that cannot be written
        print(f"error: cannot write the scores: {err}; choose another --out", file=sys.stderr)
        return 2
    return 0
