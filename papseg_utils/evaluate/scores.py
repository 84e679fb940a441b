"""Predict through the one inference path and score: the per-image tables of a scoring."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from papseg_utils.evaluate.members import Member
from papseg_utils.inference import image_probabilities, predict_with_config
from papseg_utils.labels import LabelScheme, get_scheme
from papseg_utils.metrics import score_images
from papseg_utils.metrics.catalog import PER_IMAGE_COLUMNS, SCORING_COLUMNS, metric_names


@dataclass
class Scores:
    """What :func:`score` measured. ``tables`` maps a scheme name to its tidy per-image table."""

    tables: dict[str, pd.DataFrame]
    image_labels: pd.DataFrame | None
    assignment: dict[str, list[int]]
    preds: dict[str, np.ndarray]


@dataclass
class Predictions:
    """Per image: predicted labels (H, W) uint8, scoring fold (:func:`member_fold`; ``-1``:
    several members), image-head row."""

    preds: dict[str, np.ndarray]
    fold: dict[str, int]
    head_rows: list[dict]


def member_fold(member: Member, index: int) -> int:
    """The ``fold`` an image scored by ``member`` gets: the CV fold the member was trained as
    (``train --cv-folds K --fold F`` gives F), else ``index``, its place among the checkpoints.

    So folds scored one at a time, or several folds in one command, keep their own numbers
    when their outputs are merged (:mod:`papseg_utils.evaluate.merge`).
    """
    args = getattr(member, "train_args", None) or {}  # a stand-in member may have none
    if int(args.get("cv_folds") or 0) >= 2 and args.get("fold") is not None:
        return int(args["fold"])
    return index


def predict_images(
    members: Sequence[Member],
    samples: Sequence,
    assignment: dict[str, list[int]],
    tta: bool | str = False,
    tile_size: int | None = None,
    progress: bool = False,
    pixel_size_um: float | None = None,
    one_nucleus: bool = False,
) -> Predictions:
    """Predict every assigned image with its members, probabilities averaged over them.

    Each member predicts as the ``predict`` command does
    (:func:`papseg_utils.inference.predict_with_config`): a scale-true member resamples the
    image from ``pixel_size_um`` (None: its training images' pixel size) to its target
    spacing; a letterbox member letterboxes it, or with ``tile_size`` > 0 predicts at native
    resolution in tiles. With ``one_nucleus`` each image keeps its most probable nucleus
    region only (:func:`papseg_utils.postprocess.keep_one_nucleus`; one-cell crops).
    """
    from papseg_utils.postprocess import keep_one_nucleus

    by_name = {s.name: s for s in samples}
    nucleus = members[0].scheme.classes.index("nucleus") if one_nucleus else None
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
        preds[name] = (
            keep_one_nucleus(probs, nucleus) if one_nucleus else probs.argmax(0).astype(np.uint8)
        )
        fold[name] = member_fold(members[who[0]], who[0]) if len(who) == 1 else -1
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
    one_nucleus: bool = False,
) -> Scores:
    """Predict (:func:`predict_images`) and score every assigned image.

    Parameters
    ----------
    members : from :func:`load_members`.
    samples : the dataset (``Sample`` list); only assigned names are used.
    assignment : from :func:`assign_images`.
    tta : False, True/``"flips"`` or ``"d4"``.
    paper_masks : optional ``{name: (H, W) paper_cells mask}``; with an image
        head of kind health, the cells are also scored in ``paper_cells``.
    spacing_um, empty_policy : passed to :func:`papseg_utils.metrics.score_images` (a
        ``spacing_um`` gives distances in um instead of px).
    tile_size, pixel_size_um, one_nucleus : see :func:`predict_images` (the images' pixel size,
        which scale-true members resample from; one nucleus region per image).

    Returns
    -------
    Scores
        ``tables[scheme]`` has a ``fold`` column (:func:`member_fold` of the scoring member,
        or ``-1`` for an ensemble of several) and per-image ``macro`` rows.
    """
    from papseg_utils.postprocess import cells_from_image_head

    scheme = members[0].scheme
    by_name = {s.name: s for s in samples}
    health = all(m.image_labels == ["healthy", "unhealthy"] for m in members)
    out = predict_images(members, samples, assignment, tta=tta, tile_size=tile_size, progress=progress,
                  pixel_size_um=pixel_size_um, one_nucleus=one_nucleus)  # fmt: skip
    preds, fold, rows = out.preds, out.fold, out.head_rows
    names = list(preds)
    masks = [by_name[n].mask for n in names]
    tables = {scheme.name: _table(score_images([preds[n] for n in names], masks, scheme, spacing_um,
                                           empty_policy, names=names), scheme, fold)}  # fmt: skip
    labels = pd.DataFrame(rows) if rows else None
    if labels is not None and health and paper_masks is not None:
        p_unhealthy = dict(zip(labels.image, labels.p_unhealthy, strict=True))
        cells = [cells_from_image_head(preds[n], p_unhealthy[n]) for n in names]
        paper = get_scheme("paper_cells")
        tables[paper.name] = _table(
            score_images(
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
    """A scoring's per-image table (:data:`SCORING_COLUMNS`) from a tidy table of ``scheme``.

    Adds per-image ``macro`` rows (the mean over the foreground classes of every non-count
    metric, ``empty_case`` ``""``), the ``scheme`` name and the ``fold`` (int) of each image.
    """
    fg = list(scheme.classes[1:])
    body = df[df["class"].isin(fg) & ~df.metric.isin(metric_names("count"))]
    macro = (
        body.groupby(["image", "metric"], sort=False)
        .agg(value=("value", "mean"), unit=("unit", "first"))
        .reset_index()
        .assign(**{"class": "macro", "empty_case": ""})
    )
    out = pd.concat([df, macro[list(PER_IMAGE_COLUMNS)]], ignore_index=True)
    out["scheme"] = scheme.name
    out["fold"] = out["image"].map(fold).astype(int)
    out = out[list(SCORING_COLUMNS)]
    out.attrs.update(df.attrs)
    return out
