"""Data efficiency at true scale: pretrained against scratch at each share of the training images.

Reads what ``benchmarks/data_efficiency.py`` writes into one folder (``results/data-efficiency``):

* ``arms.csv`` - one row per arm: its folder, architecture, encoder, pre-training
  (``imagenet``, ``distilled`` or ``none``), ``data_fraction``, the training images it used,
  epochs, folds, images and image-head accuracy;
* ``summary.csv`` - per arm, per-image means with bootstrap 95 % intervals;
* ``paired.csv`` - per architecture and fraction, the pretrained arm minus the scratch arm on the
  same images (:func:`papseg_utils.results.paired_gains`).

:func:`efficiency_board` is the table of the results chapter and the README,
:func:`plot_efficiency` its figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from papseg_utils.metrics.catalog import check_columns, higher_is_better, metric_label

from .architectures import START_NAMES, read_tables
from .scorings import format_difference, format_interval

EFFICIENCY_ARM_COLUMNS = ("arm", "folder", "architecture", "encoder", "pretrained",
                          "data_fraction", "train_images", "epochs", "folds", "images")  # fmt: skip
_KEYS = (("nucleus", "dice"), ("cytoplasm", "dice"))


@dataclass(frozen=True)
class EfficiencyStudy:
    """The three tables of one data-efficiency folder (module docstring)."""

    arms: pd.DataFrame
    summary: pd.DataFrame
    paired: pd.DataFrame
    folder: Path


def load_efficiency_study(folder: str | Path) -> EfficiencyStudy:
    """Read ``arms.csv``, ``summary.csv`` and ``paired.csv`` of a data-efficiency folder.

    ``FileNotFoundError`` names the missing file and the benchmark that writes it;
    ``ValueError`` names a file that lacks a column.
    """
    from papseg_utils.book.profiles import project_file

    folder = project_file(folder)
    tables = read_tables(folder, dict.fromkeys(("arms", "summary", "paired"), "data_efficiency"))
    check_columns(tables["arms"], EFFICIENCY_ARM_COLUMNS, str(folder / "arms.csv"))
    return EfficiencyStudy(tables["arms"], tables["summary"], tables["paired"], folder)


def comparison_name(architecture: str, fraction: float, pretrained: str) -> str:
    """The ``comparison`` of ``paired.csv`` for one pair: ``"unet 10 %: ImageNet - scratch"``."""
    start = START_NAMES.get(pretrained, pretrained)
    return f"{architecture} {100 * fraction:g} %: {start} - scratch"


def _value(study: EfficiencyStudy, arm: str, cls: str, metric: str) -> pd.Series:
    s = study.summary
    rows = s[
        (s.arm == arm) & (s.taxonomy == "herlev3") & (s["class"] == cls) & (s.metric == metric)
    ]
    if rows.empty:
        raise ValueError(f"{study.folder}/summary.csv: no {cls} {metric} row for arm {arm!r}")
    return rows.iloc[0]


def efficiency_board(study: EfficiencyStudy) -> pd.DataFrame:
    """One row per architecture and fraction: both starts and their paired difference.

    Columns: ``architecture``, ``data`` (``"10 %"``), ``training images`` (per fold),
    ``start`` (the pretrained start: ``ImageNet`` or ``distilled``), then per class of
    ``nucleus`` and ``cytoplasm``: ``<class> Dice, pretrained`` and ``<class> Dice, scratch``
    (per-image means with bootstrap 95 % intervals) and ``<class> gain`` (pretrained minus
    scratch, the paired mean difference with its interval). Rows by architecture (in the order
    of ``arms.csv``), then fraction.
    """
    rows = []
    order = {a: i for i, a in enumerate(study.arms.architecture.unique())}
    arms = study.arms.assign(_order=study.arms.architecture.map(order))
    arms = arms.sort_values(["_order", "data_fraction"], kind="stable")
    for (architecture, fraction), group in arms.groupby(
        ["architecture", "data_fraction"], sort=False
    ):
        by_start = group.set_index("pretrained")
        pre = next(s for s in by_start.index if s != "none")
        row = {"architecture": architecture, "data": f"{100 * fraction:g} %",
               "training images": str(by_start.loc["none", "train_images"]),
               "start": START_NAMES.get(pre, pre)}  # fmt: skip
        for cls, metric in _KEYS:
            for start, column in ((pre, "pretrained"), ("none", "scratch")):
                row[f"{cls} Dice, {column}"] = format_interval(
                    _value(study, by_start.loc[start, "arm"], cls, metric)
                )
            gain = _gain(study, architecture, fraction, cls)
            row[f"{cls} gain"] = format_difference(gain) if gain is not None else ""
        rows.append(row)
    return pd.DataFrame(rows)


def plot_efficiency(
    study: EfficiencyStudy,
    classes: Sequence[str] = ("nucleus", "cytoplasm"),
    metric: str = "dice",
):
    """``metric`` against the share of training images, pretrained and scratch, with intervals.

    One row of panels per architecture (in the order of ``arms.csv``), one column per class of ``classes``; each point is the
    per-image mean over the test images with its bootstrap 95 % interval (the bar). The x-axis is
    the share of the fold's training images (log scale). Sized for the page (6.8 in wide, text of
    9 pt or more); each row's legend names its pretrained start. Returns the figure.
    """
    import matplotlib.pyplot as plt

    from papseg_utils.labels import condition_colours

    architectures = list(study.arms.architecture.unique())  # the order of arms.csv
    fig, axes = plt.subplots(len(architectures), len(classes), squeeze=False,
                             figsize=(3.4 * len(classes), 2.9 * len(architectures)))  # fmt: skip
    colours = condition_colours(["pretrained", "none"])
    for r, architecture in enumerate(architectures):
        arms = study.arms[study.arms.architecture == architecture]
        for c, cls in enumerate(classes):
            axis = axes[r, c]
            for start, group in arms.groupby("pretrained"):
                group = group.sort_values("data_fraction")
                values = pd.DataFrame([_value(study, a, cls, metric) for a in group.arm])
                pct = 100 * group.data_fraction.to_numpy()
                shift = np.where(start == "none", 1.04, 1 / 1.04)  # side by side, not on top
                colour = colours["none" if start == "none" else "pretrained"]
                axis.errorbar(pct * shift, values["mean"],
                              yerr=[values["mean"] - values["low"], values["high"] - values["mean"]],
                              fmt="-o", ms=4, capsize=2, color=colour,
                              label=START_NAMES.get(start, start))  # fmt: skip
            axis.set_xscale("log")
            axis.set_xlim(8, 125)
            axis.set_xticks([10, 25, 50, 100], ["10", "25", "50", "100"])
            axis.minorticks_off()
            axis.grid(alpha=0.3)
            axis.set_title(f"{architecture}: {cls}", fontsize=10)
            if r == len(architectures) - 1:
                axis.set_xlabel("training images used (%)")
            if c == 0:
                unit = "" if higher_is_better(metric) else " (px)"
                axis.set_ylabel(f"{metric_label(metric)}{unit}")
                axis.legend(loc="best", fontsize=9, framealpha=0.9)  # fmt: skip
    fig.suptitle(f"{metric_label(metric)} against training-set size at true scale "
                 "(bars: 95 % CI over test images)", fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig


def _gain(study: EfficiencyStudy, architecture: str, fraction: float, cls: str) -> pd.Series | None:
    """The ``paired.csv`` row of ``cls`` Dice, pretrained minus scratch (None when not there)."""
    arms = study.arms[(study.arms.architecture == architecture)
                      & (study.arms.data_fraction == fraction)]  # fmt: skip
    pre = [s for s in arms.pretrained if s != "none"]
    if not pre:
        return None
    name = comparison_name(architecture, fraction, pre[0])
    p = study.paired
    rows = p[(p.comparison == name) & (p.taxonomy == "herlev3") & (p["class"] == cls)
             & (p.metric == "dice")]  # fmt: skip
    return rows.iloc[0] if len(rows) else None


def efficiency_claim(study: EfficiencyStudy) -> pd.DataFrame:
    """The row of "what the paper claims / what we measured" that this study tests.

    The claim is that pre-training on natural images helps on scarce cytology data. ``measured``
    gives each architecture's nucleus and cytoplasm Dice gain (pretrained minus scratch, with its
    bootstrap 95 % interval) at the smallest and the largest share of the training images;
    ``verdict`` is ``"supported"`` when every gain at the smallest share has an interval above 0,
    else ``"not supported"``. Columns as :func:`~papseg_utils.results.paper_claims`.
    """
    low, high = study.arms.data_fraction.min(), study.arms.data_fraction.max()
    parts, above = [], []
    for architecture in sorted(study.arms.architecture.unique()):
        for fraction in (low, high):
            gains = [(cls, _gain(study, architecture, fraction, cls)) for cls, _ in _KEYS]
            text = ", ".join(f"{cls} {format_difference(g)}" for cls, g in gains if g is not None)
            parts.append(f"{architecture} at {100 * fraction:g} %: {text}")
            if fraction == low:
                above += [g is not None and g["low"] > 0 for _, g in gains]
    return pd.DataFrame([{
        "claim": "pre-training on natural images helps on scarce cytology data",
        "measured": "Dice gain of the pretrained start over scratch: " + "; ".join(parts),
        "verdict": "supported" if above and all(above) else "not supported",
    }])  # fmt: skip
