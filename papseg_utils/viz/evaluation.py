"""Evaluation plots: confusion matrix, metric distributions, worst cases,
uncertainty maps, and the empty-class policy illustration (MONAI #9095).

Class colours come from the label scheme. Helpers take ``ax=None`` (or
``axes=None``) and return the figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from papseg_utils.labels import LabelScheme, condition_colours, get_scheme
from papseg_utils.metrics.catalog import (
    PER_IMAGE_COLUMNS,
    check_columns,
    headline_metrics,
    higher_is_better,
    metric_label,
)
from papseg_utils.metrics.per_image import average, score_images
from papseg_utils.viz.boundaries import _axes, _disc, plot_contour_comparison


def plot_confusion(
    cm: np.ndarray, scheme: LabelScheme | str, ax: plt.Axes | None = None, title: str | None = None
) -> Figure:
    """Row-normalised pixel confusion matrix (rows = truth), with class names and percentages.

    ``cm`` (C, C) integer counts from :func:`papseg_utils.metrics.confusion_matrix`
    (summed over images).
    """
    scheme = get_scheme(scheme)
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    c = scheme.num_classes
    fig, ax = _axes(ax, (min(6.8, 1.05 * c + 2.2), min(5.6, 0.9 * c + 1.6)))  # fits the page
    names = [scheme.label(i) for i in range(scheme.num_classes)]
    sns.heatmap(
        norm,
        annot=True,
        fmt=".1%",
        cmap="Blues",
        vmin=0,
        vmax=1,
        square=True,
        xticklabels=names,
        yticklabels=names,
        cbar_kws={"label": "fraction of true pixels"},
        annot_kws={"fontsize": 10},
        ax=ax,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.tick_params(axis="x", labelrotation=30)
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_title(title or f"Pixel confusion, row-normalised\n({int(cm.sum()):,} px)", fontsize=11)
    return fig


def plot_metric_distributions(
    df: pd.DataFrame,
    scheme: LabelScheme | str,
    metrics: Sequence[str] = headline_metrics(),
    kind: str = "box",
    axes=None,
    title: str | None = None,
) -> Figure:
    """Per-class box (or violin) plots of per-image metrics from the tidy table.

    ``df`` is a tidy table (:data:`~papseg_utils.metrics.catalog.PER_IMAGE_COLUMNS`). Distance
    metrics are labelled with their unit (px or um). Images with NaN (both masks empty) are
    left out; the number of values per class is shown in the tick label.
    """
    check_columns(df, PER_IMAGE_COLUMNS, "plot_metric_distributions: the table")
    scheme = get_scheme(scheme)
    if axes is None:
        ncols = min(2, len(metrics))  # two a row: legible at the page width
        nrows = -(-len(metrics) // ncols)
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(3.4 * ncols, 3.3 * nrows), layout="constrained", squeeze=False
        )
        for ax in axes.flat[len(metrics) :]:
            ax.set_visible(False)
        axes = axes.flat[: len(metrics)]
    axes = np.atleast_1d(axes)
    fig = axes[0].figure
    order = [c for c in scheme.classes if c in set(df["class"])]
    palette = {c: scheme.colour(scheme.ids[c], 1.0) for c in order}
    for ax, metric in zip(axes, metrics, strict=True):
        sub = df[(df.metric == metric)].dropna(subset=["value"])
        if sub.empty:
            ax.set_visible(False)
            continue
        unit = sub["unit"].iloc[0]
        plot = sns.violinplot if kind == "violin" else sns.boxplot
        kw = {"cut": 0} if kind == "violin" else {"fliersize": 2}
        plot(
            data=sub,
            x="class",
            y="value",
            hue="class",
            order=order,
            palette=palette,
            legend=False,
            ax=ax,
            **kw,
        )
        counts = sub.groupby("class").size()
        ax.set_xticks(
            range(len(order)),
            [f"{scheme.label(scheme.ids[c])}\nn={counts.get(c, 0)}" for c in order],
        )
        ax.set_xlabel("")
        name = metric_label(metric)
        ax.set_ylabel(f"{name} ({unit})" if unit != "fraction" else name)
        ax.set_title(name)
    fig.suptitle(title or "Per-image metrics by class")
    return fig


def worst_cases(
    df: pd.DataFrame,
    metric: str = "hd95",
    cls: str | None = None,
    n: int = 4,
    with_empty: bool = True,
) -> pd.DataFrame:
    """The ``n`` images with the worst ``metric`` (largest distance / smallest overlap).

    ``df`` is the tidy table of :func:`papseg_utils.metrics.score_images`. With
    ``with_empty=False`` the rows whose class is missing from the prediction
    or from the truth (``empty_case`` ``"pred_empty"`` / ``"truth_empty"``)
    are left out: under the ``"penalty"`` policy their distance is the penalty
    (the image diagonal), so they rank first by construction and show no
    boundary to look at; :func:`empty_case_counts` counts them.
    Returns rows of the tidy table (image, class, value, unit, empty_case).
    """
    check_columns(df, PER_IMAGE_COLUMNS, "worst_cases: the table")
    sub = df[(df.metric == metric)].dropna(subset=["value"])
    if cls is not None:
        sub = sub[sub["class"] == cls]
    if not with_empty:
        sub = sub[sub["empty_case"] == "none"]
    ascending = higher_is_better(metric)  # worst first: the smallest score, the largest distance
    return sub.sort_values("value", ascending=ascending, kind="stable").head(n)


def worst_image(df: pd.DataFrame, metric: str = "hd95", with_empty: bool = False) -> str:
    """Name of the image with the worst ``metric`` over all classes (see :func:`worst_cases`).

    By default the worst image *with a boundary on both sides*, i.e. not an
    empty-class case; when every value is one, the worst of them.
    """
    pick = worst_cases(df, metric, n=1, with_empty=with_empty)
    if pick.empty:
        pick = worst_cases(df, metric, n=1, with_empty=True)
    if pick.empty:
        raise ValueError(f"worst_image: no {metric} values in the table")
    return str(pick["image"].iloc[0])


def empty_case_counts(df: pd.DataFrame, metric: str = "hd95") -> pd.DataFrame:
    """Per class: how many images have a ``metric`` value, and how many of those are empty cases.

    Columns ``scored`` (non-NaN values), ``pred_empty`` (class in the truth,
    missing from the prediction) and ``truth_empty`` (predicted, not in the
    truth): under the ``"penalty"`` policy these two carry the penalty
    distance. Index: class, in the table's order.
    """
    sub = df[df.metric == metric].dropna(subset=["value"])
    classes = list(dict.fromkeys(df["class"]))
    out = pd.DataFrame(
        {
            "scored": sub.groupby("class").size(),
            "pred_empty": sub[sub.empty_case == "pred_empty"].groupby("class").size(),
            "truth_empty": sub[sub.empty_case == "truth_empty"].groupby("class").size(),
        }
    )
    out = out.reindex(classes).fillna(0).astype(int)
    out.index.name = "class"
    return out


def plot_worst_cases(
    images: dict[str, np.ndarray] | Sequence[np.ndarray],
    masks: dict[str, np.ndarray] | Sequence[np.ndarray],
    preds: dict[str, np.ndarray] | Sequence[np.ndarray],
    df: pd.DataFrame,
    scheme: LabelScheme | str,
    metric: str = "hd95",
    cls: str | None = None,
    n: int = 4,
    with_empty: bool = False,
) -> Figure:
    """Gallery of the worst images by ``metric``: image, truth, prediction, contours per row.

    ``images`` ((H, W, 3) uint8), ``masks`` and ``preds`` ((H, W) integer
    labels of ``scheme``) are dicts keyed by image name (or sequences in the
    order of ``df``'s image names ``"0", "1", ...``); ``df`` is the tidy table
    of :func:`papseg_utils.metrics.score_images`. By default the empty-class cases
    are left out (see :func:`worst_cases`; the title says how many there
    were). Each row is captioned with the image, class and value above its
    panels; one legend for the classes and line styles sits at the bottom.
    The figure is 6.8 in wide (the page) with text of 9 pt or more.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    scheme = get_scheme(scheme)

    def get(store, name):
        return store[name] if isinstance(store, dict) else store[int(name)]

    worst = worst_cases(df, metric, cls, n, with_empty=with_empty)
    rows = max(len(worst), 1)
    row_h, top, bottom = 1.95, 0.75, 0.55  # inches: one row with its caption, header, legend
    height = rows * row_h + top + bottom
    fig, axes = plt.subplots(
        rows, 4, figsize=(6.8, height), squeeze=False,
        gridspec_kw={"left": 0.01, "right": 0.99, "wspace": 0.06, "hspace": 0.32 / 1.6,
                     "top": 1 - top / height, "bottom": bottom / height},
    )  # fmt: skip
    label = metric_label(metric)
    for row, (k, (_, r)) in zip(axes, enumerate(worst.iterrows()), strict=False):
        img, truth, pred = get(images, r["image"]), get(masks, r["image"]), get(preds, r["image"])
        row[0].imshow(img)
        row[1].imshow(scheme.colourise(truth))
        row[2].imshow(scheme.colourise(pred))
        plot_contour_comparison(img, truth, pred, scheme, ax=row[3])
        row[3].set_title("")
        legend = row[3].get_legend()
        if legend is not None:
            legend.remove()
        unit = "" if r["unit"] == "fraction" else f" {r['unit']}"
        case = "" if r["empty_case"] == "none" else f" ({r['empty_case'].replace('_', ' ')})"
        row[0].text(0.0, 1.03, f"{k + 1}. {r['image']}: {r['class']} {label} "
                    f"{r['value']:.3g}{unit}{case}", transform=row[0].transAxes,
                    ha="left", va="bottom", fontsize=9)  # fmt: skip
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("")
            ax.set_ylabel("")
    for row in axes[len(worst) :]:
        for ax in row:
            ax.set_axis_off()
    for ax, header in zip(axes[0], ("image", "truth", "prediction", "contours"), strict=True):
        ax.set_title(header, fontsize=10, pad=20)
    handles = [Patch(color=scheme.colour(c, 1.0), label=scheme.label(c))
               for c in range(1, scheme.num_classes)]  # fmt: skip
    handles += [Line2D([], [], color="k", ls="-", label="truth"),
                Line2D([], [], color="k", ls=(0, (3, 2)), label="prediction")]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=9,
               frameon=False)  # fmt: skip
    counts = empty_case_counts(df[df["class"] == cls] if cls else df, metric)
    n_empty = int(counts[["pred_empty", "truth_empty"]].to_numpy().sum())
    cases = "case" if n_empty == 1 else "cases"
    left_out = "" if with_empty or not n_empty else f"; {n_empty} empty-class {cases} left out"
    fig.suptitle(
        f"Worst {len(worst)} images by {label}" + (f" ({cls})" if cls else "") + left_out,
        fontsize=11, y=1 - 0.12 / height,
    )  # fmt: skip
    return fig


def plot_uncertainty(
    image: np.ndarray,
    entropy_map: np.ndarray,
    variance_map: np.ndarray,
    truth: np.ndarray | None = None,
    scheme: LabelScheme | str | None = None,
    axes=None,
    title: str | None = None,
) -> Figure:
    """Image, softmax entropy (nats) and TTA variance side by side, truth contours on the maps.

    ``image`` (H, W, 3) uint8; ``entropy_map``, ``variance_map`` (H, W) float;
    ``truth`` (H, W) integer labels of ``scheme``. 6.6 in wide (the page); the
    colour bars lie under their maps, so that no title runs into them.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(6.6, 3.4), layout="constrained")
    fig = axes[0].figure
    axes[0].imshow(image)
    axes[0].set_title("image")
    for ax, data, name, unit in (
        (axes[1], entropy_map, "softmax entropy", "nats"),
        (axes[2], variance_map, "TTA variance", "probability$^2$ (mean over classes)"),
    ):
        im = ax.imshow(data, cmap="magma")
        bar = fig.colorbar(im, ax=ax, shrink=0.9, orientation="horizontal", label=unit)
        bar.ax.xaxis.set_major_locator(plt.MaxNLocator(4))
        ax.set_title(name)
        if truth is not None and scheme is not None:
            from papseg_utils.viz.boundaries import _contours

            sch = get_scheme(scheme)
            for c in range(1, sch.num_classes):
                _contours(ax, truth == c, sch.colour(c, 1.0), "-", 0.8)
    for ax in axes:
        ax.set_xlabel("x (px)")
    axes[0].set_ylabel("y (px)")
    fig.suptitle(title or "Where is the model unsure?")
    return fig


def plot_error_grid(
    image: np.ndarray,
    truth: np.ndarray,
    pred: np.ndarray,
    scheme: LabelScheme | str,
    ncols: int = 2,
    title: str | None = None,
) -> Figure:
    """:func:`papseg_utils.viz.boundaries.plot_error_maps` on a grid of ``ncols`` columns.

    One panel per foreground class (TP in the class colour, FP magenta, FN
    white), two a row by default so that each panel's title (class, FP and FN
    pixel counts) has room: panels of at most 2.8 in, the figure within the
    page (6.8 in), text of 9 pt or more. ``image`` (H, W, 3) uint8; ``truth``, ``pred`` (H, W)
    integer labels of ``scheme``.
    """
    from papseg_utils.viz.boundaries import plot_error_maps

    scheme = get_scheme(scheme)
    k = scheme.num_classes - 1
    ncols = max(1, min(ncols, k))
    nrows = -(-k // ncols)
    side = min(2.8, 6.8 / ncols)  # inches a panel
    h, w = truth.shape
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(side * ncols, nrows * (side * h / w + 0.45) + 0.5),
        layout="constrained", squeeze=False,
    )  # fmt: skip
    for ax in axes.flat[k:]:
        ax.set_visible(False)
    plot_error_maps(image, truth, pred, scheme, axes=axes.flat[:k], title=title)
    for ax in axes.flat[:k]:
        ax.title.set_fontsize(10)
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                text.set_fontsize(9)
    if fig._suptitle is not None:
        fig._suptitle.set_fontsize(11)
    return fig


def empty_policy_example(n_images: int = 20, size: int = 64, seed: int = 0) -> pd.DataFrame:
    """Mean HD95 under the ``"penalty"`` and ``"nan"`` policies as a model misses more.

    ``n_images`` synthetic images each hold one nucleus (a disc). The "model"
    predicts each disc shifted by 1-8 px; at miss level k it predicts nothing
    for the k hardest images (largest shift), as a weak model would.
    Returns a table ``missed, fraction_missed, policy, mean_hd95_px,
    n_scored, mean_dice``.
    """
    rng = np.random.default_rng(seed)
    shifts = np.sort(rng.uniform(1, 8, n_images))
    masks, base_preds = [], []
    for s in shifts:
        m = np.zeros((size, size), np.uint8)
        m[_disc((size, size), size / 2, size / 2, 12)] = 2
        p = np.zeros_like(m)
        p[_disc((size, size), size / 2, size / 2 + s, 12)] = 2
        masks.append(m)
        base_preds.append(p)
    rows = []
    for k in range(0, n_images - 1, max(1, n_images // 10)):
        preds = [np.zeros_like(p) if i >= n_images - k else p for i, p in enumerate(base_preds)]
        for policy in ("penalty", "nan"):
            df = score_images(preds, masks, "herlev3", empty_policy=policy)
            s = average(df).set_index(["class", "metric"])
            rows.append(
                (
                    k,
                    k / n_images,
                    policy,
                    s.loc[("nucleus", "hd95"), "value"],
                    int(s.loc[("nucleus", "hd95"), "n"]),
                    s.loc[("nucleus", "dice"), "value"],
                )
            )
    return pd.DataFrame(
        rows,
        columns=["missed", "fraction_missed", "policy", "mean_hd95_px", "n_scored", "mean_dice"],
    )


def plot_empty_policy(table: pd.DataFrame | None = None, ax: plt.Axes | None = None) -> Figure:
    """Line plot of :func:`empty_policy_example`: mean HD95 vs fraction of images missed."""
    t = empty_policy_example() if table is None else table
    fig, ax = _axes(ax, (6, 4))
    colours = condition_colours(["penalty", "nan"])
    styles = {
        "penalty": (colours["penalty"], "-", "penalty (image diagonal)"),
        "nan": (colours["nan"], "--", "NaN dropped"),
    }
    for policy, g in t.groupby("policy"):
        colour, ls, label = styles[policy]
        ax.plot(
            100 * g["fraction_missed"],
            g["mean_hd95_px"],
            color=colour,
            linestyle=ls,
            marker="o",
            label=label,
        )
    ax.set_xlabel("images where the model misses the nucleus (%)")
    ax.set_ylabel("mean HD95 over images (px)")
    ax.set_title("Dropping NaNs rewards missing:\nmean HD95 'improves' as the model gets worse")
    ax.legend(title="empty-class policy")
    ax.grid(alpha=0.3)
    return fig
