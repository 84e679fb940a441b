"""The project's quality targets: the one table of goals, and the checks that read it.

:data:`CV_TARGETS` is the only place the goal numbers live. :func:`target_check` checks a
study's runs against it, :func:`cv_targets` an evaluate ``summary.csv`` (the cross-validated
recipe), and :func:`targets_text` writes it as one line for a page or a README.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from papseg_utils.metrics.catalog import higher_is_better, metric_label

from .study import label, select


class Target(NamedTuple):
    """One goal: ``statistic`` (``"mean"`` or ``"median"`` over images) of ``metric`` for
    ``cls`` in taxonomy ``scheme`` must reach ``goal`` (at least, or at most for a distance)."""

    scheme: str
    cls: str
    metric: str
    statistic: str
    goal: float


#: The project's quality targets on Herlev: per-image statistics of a five-fold cross-validation.
#: ``macro`` is the mean over the foreground classes of each image (cytoplasm and nucleus); HD95
#: is in px.
CV_TARGETS: tuple[Target, ...] = (
    Target("herlev3", "nucleus", "dice", "mean", 0.955),
    Target("herlev3", "cytoplasm", "dice", "mean", 0.88),
    Target("herlev3", "macro", "iou", "mean", 0.85),
    Target("herlev3", "nucleus", "hd95", "median", 2.0),
    Target("paper_cells", "healthy", "dice", "mean", 0.90),
    Target("paper_cells", "unhealthy", "dice", "mean", 0.90),
)


def target_name(cls: str, metric: str) -> str:
    """How a target is named in tables: ``"nucleus Dice"``; ``macro`` is the foreground mean."""
    if cls == "macro":
        return f"foreground mean {metric_label(metric)}"
    return f"{cls} {metric_label(metric)}"


def targets_text(targets: Sequence[tuple[str, str, str, str, float]] | None = None) -> str:
    """The targets as one line of text, e.g. ``"herlev3: nucleus Dice (mean) >= 0.955, ..."``.

    Written from :data:`CV_TARGETS` (the default), so that a page or a README
    that prints it quotes the numbers the checks use. Distances are in px.
    """
    parts: dict[str, list[str]] = {}
    for scheme, cls, metric, stat, goal in CV_TARGETS if targets is None else targets:
        higher = higher_is_better(metric)
        sign, unit = (">=", "") if higher else ("<=", " px")
        parts.setdefault(scheme, []).append(
            f"{target_name(cls, metric)} ({stat}) {sign} {goal:g}{unit}"
        )
    return "; ".join(f"{scheme}: {', '.join(p)}" for scheme, p in parts.items())


def cv_targets(summary: pd.DataFrame, targets=CV_TARGETS) -> pd.DataFrame:
    """Each target with the measured value, its bootstrap 95 % interval (means only), goal and gap.

    ``summary`` is an evaluate ``summary.csv``; ``targets`` default to the project's
    (:data:`CV_TARGETS`, HD95 in px). Columns ``taxonomy, target, value, low, high, goal, met,
    gap`` (``gap`` > 0: by how much the goal is beaten).
    """
    rows = []
    s = summary.set_index(["scheme", "class", "metric"])
    for scheme, cls, metric, stat, goal in targets:
        row = {"taxonomy": scheme, "target": f"{target_name(cls, metric)} ({stat})"}
        key = (scheme, cls, metric)
        if key not in s.index:
            rows.append({**row, "value": np.nan, "low": np.nan, "high": np.nan, "goal": goal,
                         "met": False, "gap": np.nan})  # fmt: skip
            continue
        r = s.loc[key]
        value = float(r[stat])
        low, high = (float(r["low"]), float(r["high"])) if stat == "mean" else (np.nan, np.nan)
        higher = higher_is_better(metric)
        met = value >= goal if higher else value <= goal
        rows.append({**row, "value": value, "low": low, "high": high, "goal": goal,
                     "met": bool(met), "gap": value - goal if higher else goal - value})  # fmt: skip
    return pd.DataFrame(rows)


def _target_value(grp, per_image, run_id, target, aggregation, spacing_um) -> float | None:
    """The value of one mean or median target for one run; None when it cannot be checked."""
    _, cls, metric, stat, _ = target
    val = grp.set_index(["class", "metric"])["value"]
    if stat == "mean":
        if cls == "macro":
            classes = sorted(set(grp["class"]))
            return float(np.mean([val.get((c, metric), np.nan) for c in classes]))
        return float(val.get((cls, metric), np.nan))
    if stat == "median" and per_image is not None and aggregation == "image-mean":
        return _median_px(per_image, run_id, cls, metric, spacing_um)
    return None


def target_check(
    results: pd.DataFrame,
    aggregation: str = "image-mean",
    per_image: pd.DataFrame | None = None,
    spacing_um: float | None = None,
    **where,
) -> pd.DataFrame:
    """The project's targets (:data:`CV_TARGETS`) against one or more runs of a study.

    ``results`` is a study's ``results.csv``; ``aggregation`` is ``"image-mean"``
    (mean over test images) or ``"micro"`` (pixel counts pooled over images).
    The targets on means are checked for the schemes the runs were scored in;
    ``macro`` (the foreground mean) is the mean of the class values (for
    ``herlev3``: cytoplasm and nucleus). A median target (nucleus HD95, in px)
    needs the per-image values: give the study's ``per_image`` table and, for
    distances stored in um, the pixel size ``spacing_um``; it is left out under
    ``"micro"``, which has no median. Columns: ``run, run_id, aggregation,
    target, statistic, value, goal, met``.
    """
    sub = select(results, aggregation=aggregation, **where)
    rows = []
    for run_id, grp in sub.groupby("run_id", sort=False):
        first = grp.iloc[0]
        scheme = first.get("scheme", "herlev3")
        for target in CV_TARGETS:
            if target.scheme != scheme:
                continue
            got = _target_value(grp, per_image, run_id, target, aggregation, spacing_um)
            if got is None:
                continue
            higher = higher_is_better(target.metric)
            rows.append(
                {
                    "run": label(first),
                    "run_id": run_id,
                    "aggregation": aggregation,
                    "target": target_name(target.cls, target.metric) + ("" if higher else " (px)"),
                    "statistic": target.statistic if aggregation == "image-mean" else "pooled",
                    "value": got,
                    "goal": target.goal,
                    "met": bool(got >= target.goal if higher else got <= target.goal),
                }
            )
    columns = ["run", "run_id", "aggregation", "target", "statistic", "value", "goal", "met"]
    return pd.DataFrame(rows, columns=columns)


def _median_px(
    per_image: pd.DataFrame, run_id: str, cls: str, metric: str, spacing_um: float | None
) -> float:
    """Median over images of one run's ``metric`` for ``cls``, in px (um divided by ``spacing_um``)."""
    sel = per_image[
        (per_image["run_id"] == run_id)
        & (per_image["class"] == cls)
        & (per_image["metric"] == metric)
    ].dropna(subset=["value"])
    if sel.empty:
        return np.nan
    values = sel["value"].to_numpy(dtype=float)
    if (sel["unit"] == "um").any():
        if not spacing_um:
            raise ValueError(f"{metric} of {run_id} is in um: give spacing_um to compare with px")
        values = values / spacing_um
    return float(np.median(values))
