"""Figures of the results chapter: data efficiency, leaderboard, region vs boundary, forest plots.

Plots take ``ax=None`` where they draw one panel and return the figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..labels import condition_colours, get_scheme
from ..metrics.catalog import higher_is_better, metric_label
from .study import label, seed_summary, select, varying


def plot_data_efficiency(
    results: pd.DataFrame,
    metric: str = "dice",
    classes: Sequence[str] = ("nucleus", "cytoplasm"),
    ax=None,
    **where,
):
    """``metric`` vs training-data fraction, pre-trained vs scratch, one panel per class.

    Points are runs (seeds); the line joins the seed means; the band is the mean
    bootstrap 95 % interval over test images. Two panels fit the page (6.8 in,
    text of 9 pt or more); the legend is in the first panel only.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, axes = plt.subplots(1, len(classes), figsize=(3.4 * len(classes), 3.6), squeeze=False)
        axes = axes[0]
    else:
        axes, fig = np.atleast_1d(ax), np.atleast_1d(ax)[0].figure
    sub = select(results, **where)
    colours = condition_colours(["imagenet", "none"])
    styles = {
        "imagenet": (colours["imagenet"], "ImageNet-pretrained"),
        "none": (colours["none"], "from scratch"),
    }
    for k, (axis, cls) in enumerate(zip(axes, classes, strict=True)):
        for weights, (colour, name) in styles.items():
            s = seed_summary(select(sub, pretrained=weights), ["data_fraction"], metric, cls)
            if s.empty:
                continue
            pct = 100 * s["data_fraction"]
            axis.plot(pct, s["value"], "-o", color=colour, label=name)
            axis.fill_between(pct, s["ci_low"], s["ci_high"], color=colour, alpha=0.15, lw=0)
            runs = select(sub, pretrained=weights, metric=metric, aggregation="image-mean")
            runs = runs[runs["class"] == cls]
            axis.scatter(100 * runs["data_fraction"], runs["value"], color=colour, s=12, alpha=0.6)
        axis.set_xscale("log")
        axis.set_xticks([10, 25, 50, 100], ["10", "25", "50", "100"])
        axis.set_xlabel("training images used (%)")
        unit = "" if higher_is_better(metric) else " (µm)"
        axis.set_ylabel(f"{metric_label(metric)}{unit}, mean over test images")
        axis.set_title(f"{cls}")
        axis.grid(alpha=0.3)
        if k == 0:
            loc = "lower right" if higher_is_better(metric) else "upper right"
            axis.legend(loc=loc, fontsize=9)
    fig.suptitle(
        f"{metric_label(metric)} vs training-set size\n(band: 95 % CI over test images)",
        fontsize=11,
    )
    fig.tight_layout()
    return fig


def plot_leaderboard(
    results: pd.DataFrame, metric: str = "dice", scheme: str = "herlev3", ax=None, **where
):
    """Per-class ``metric`` with 95 % intervals, one row per run, coloured by class.

    Sized for the page (6.8 in wide); the class legend sits under the x-axis.
    """
    import matplotlib.pyplot as plt

    sub = select(results, aggregation="image-mean", metric=metric, scheme=scheme, **where)
    labels = get_scheme(scheme)
    runs = sub.drop_duplicates("run_id").copy()
    extra = varying(runs)
    runs["name"] = runs.apply(lambda r: label(r, extra), axis=1)
    order = (
        sub.groupby("run_id")["value"]
        .mean()
        .sort_values(ascending=not higher_is_better(metric))
        .index
    )
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.8, 0.45 * len(order) + 1.9))
    else:
        fig = ax.figure
    classes = [c for c in labels.foreground if c in set(sub["class"])]
    height = 0.8 / max(len(classes), 1)
    for k, cls in enumerate(classes):
        c = sub[sub["class"] == cls].set_index("run_id").reindex(order)
        y = np.arange(len(order)) + k * height
        ax.errorbar(
            c["value"], y, xerr=[c["value"] - c["ci_low"], c["ci_high"] - c["value"]], fmt="o",
            color=labels.colour(labels.ids[cls], 1.0), label=cls, capsize=2,
        )  # fmt: skip
    names = runs.set_index("run_id").reindex(order)["name"]
    ax.set_yticks(np.arange(len(order)) + height * (len(classes) - 1) / 2, names)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"{metric_label(metric)}{'' if higher_is_better(metric) else ' (µm)'} (95 % CI over test images)"
    )
    ax.set_title(f"{scheme}: {metric_label(metric)} per class")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(classes),
              frameon=False)  # fmt: skip
    fig.tight_layout()
    return fig


def plot_region_vs_boundary(
    results: pd.DataFrame,
    region: str = "dice",
    boundary: str = "hd95",
    scheme: str = "herlev3",
    ax=None,
    **where,
):
    """Each run as a point: region quality (x) against boundary quality (y), per class.

    The marker is the architecture's family (:func:`papseg_utils.models.architecture_family`).
    """
    import matplotlib.pyplot as plt

    from papseg_utils.models import architecture_family as _family

    sub = select(results, aggregation="image-mean", scheme=scheme, **where)
    wide = sub.pivot_table(
        index=["run_id", "class"], columns="metric", values="value"
    ).reset_index()
    labels = get_scheme(scheme)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4.2))
    else:
        fig = ax.figure
    meta = sub.drop_duplicates("run_id").set_index("run_id")
    markers = {"cnn": "o", "transformer": "s", "hybrid": "^"}
    for cls in labels.foreground:
        c = wide[wide["class"] == cls]
        for rec in c.itertuples():
            fam = _family(meta.loc[rec.run_id, "architecture"])
            ax.scatter(
                getattr(rec, region), getattr(rec, boundary), color=labels.colour(labels.ids[cls], 1.0),
                marker=markers.get(fam, "o"), s=36, alpha=0.8, edgecolor="k", linewidth=0.3,
            )  # fmt: skip
    for cls in labels.foreground:
        ax.scatter([], [], color=labels.colour(labels.ids[cls], 1.0), label=cls)
    present = {_family(a) for a in meta["architecture"]}
    for fam, m in markers.items():
        if fam in present:
            ax.scatter([], [], color="gray", marker=m, label=fam)
    unit = "" if higher_is_better(boundary) else " (µm)"
    ax.set_xlabel(f"{metric_label(region)} (region)")
    ax.set_ylabel(f"{metric_label(boundary)}{unit} (boundary)")
    ax.set_title("Region vs boundary quality, one point per run and class")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, ncol=2)
    fig.tight_layout()
    return fig


def _excludes_zero(low: float, high: float) -> bool:
    """Whether the interval ``[low, high]`` lies wholly on one side of 0.

    A bound within ``1e-9`` of 0 (e.g. ``-0.0`` from a median of ties) touches 0:
    such an interval does not exclude it.
    """
    eps = 1e-9
    return bool(low > eps or high < -eps)


def plot_forest(
    tests: pd.DataFrame,
    diff: str = "mean_diff",
    low: str = "low",
    high: str = "high",
    p: str = "p_holm",
    label_col: str = "comparison",
    panels: Sequence[str] = ("class", "metric"),
    ncols: int = 2,
    title: str | None = None,
    distance_unit: str = "µm",
):
    """Forest plot of paired tests: one panel per ``panels`` value, one row per comparison.

    Each row is the difference B - A (``diff``) with its 95 % interval
    (``low``, ``high``). The marker and the interval tell one test: a filled
    marker is an interval that excludes 0, a hollow one an interval across 0.
    The label at the right of each row is a second, separate test: the
    p-value ``p`` (for the tables of :func:`paired_comparisons` and
    :func:`paired_gains`, the Wilcoxon signed-rank test after Holm's
    correction). It ranks the per-image differences, so it can find a shift
    in most images that a mean's interval does not (and the other way round);
    the figure title says so. The dotted line is "no difference"; each
    x-label says which side favours B (above 0 for Dice-like metrics, below 0
    for distances, in ``distance_unit``: µm in the study tables, px in the
    ``evaluate`` command's without a pixel size). Returns the figure, sized
    for the page (6.8 in wide, text of 9 pt or more).
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    keys = list(tests[list(panels)].drop_duplicates().itertuples(index=False, name=None))
    rows = list(dict.fromkeys(tests[label_col]))
    ncols = min(ncols, len(keys))
    nrows = -(-len(keys) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(6.8, nrows * (0.36 * len(rows) + 1.15) + 0.95),
        sharey=True, squeeze=False,
    )  # fmt: skip
    y = {name: i for i, name in enumerate(rows)}
    stat = "median" if "median" in diff else "mean"
    for ax, key in zip(axes.flat, keys, strict=False):
        t = tests[(tests[list(panels)] == pd.Series(key, index=list(panels))).all(axis=1)]
        _forest_panel(ax, t, key, y, (diff, low, high, p, label_col), stat, distance_unit)
    for ax in axes.flat[len(keys) :]:
        ax.set_visible(False)
    axes[0, 0].set_yticks(range(len(rows)), rows)
    axes[0, 0].set_ylim(len(rows) - 0.5, -0.5)  # first comparison on top
    test = "Wilcoxon p, Holm-corrected" if p == "p_holm" else f"{p}"
    marks = [
        Line2D([], [], marker="o", ls="", color="#0072B2", label="95 % interval excludes 0"),
        Line2D([], [], marker="o", ls="", color="#0072B2", mfc="white", label="interval across 0"),
    ]
    fig.legend(handles=marks, loc="lower center", ncol=2, fontsize=9, frameon=False,
               title=f"right of each row: {test} (a separate test)", title_fontsize=9)  # fmt: skip
    fig.suptitle(title or f"B - A with 95 % interval ({stat} of the per-image differences)",
                 fontsize=11)  # fmt: skip
    fig.tight_layout(rect=(0, 0.55 / fig.get_figheight(), 1, 1))
    return fig


def _forest_panel(ax, t: pd.DataFrame, key: tuple, y: dict, cols: tuple, stat: str,
                  distance_unit: str) -> None:  # fmt: skip
    """One panel of :func:`plot_forest`: the rows of ``t`` (one panel key) at heights ``y``;
    ``cols`` names the difference, interval, p-value and label columns."""
    from matplotlib.ticker import MaxNLocator

    diff, low, high, p, label_col = cols
    metric = t["metric"].iloc[0] if "metric" in t else ""
    for rec in t.to_dict("records"):
        filled = _excludes_zero(rec[low], rec[high])
        yy = y[rec[label_col]]
        ax.errorbar(rec[diff], yy, xerr=[[rec[diff] - rec[low]], [rec[high] - rec[diff]]],
                    fmt="o", color="#0072B2", mfc="#0072B2" if filled else "white",
                    capsize=2)  # fmt: skip
        ax.text(0.99, yy, f"p {rec[p]:.2g}", transform=ax.get_yaxis_transform(),
                ha="right", va="center", fontsize=9)  # fmt: skip
    lo, hi = min(t[low].min(), 0.0), max(t[high].max(), 0.0)
    span = (hi - lo) or 1.0
    ax.set_xlim(lo - 0.05 * span, hi + 0.75 * span)  # room for the p-values
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.axvline(0, color="0.4", ls=":", lw=1)
    better = bool(metric) and higher_is_better(metric)
    side = "> 0" if better else "< 0"
    unit = "" if better or not metric else f" ({distance_unit})"
    name = " ".join(str(k) for k in key if k != metric)
    ax.set_title(f"{name} {metric_label(metric)}{unit}", fontsize=10)
    ax.set_xlabel(f"{stat} B - A; B better {side}", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(labelsize=9)
