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
from papseg_utils.metrics.evaluate import evaluate, summarise
from papseg_utils.viz.boundaries import _axes, _disc, plot_contour_comparison

METRIC_LABELS: dict[str, str] = {
    "dice": "Dice",
    "iou": "IoU",
    "precision": "precision",
    "recall": "recall",
    "hd95": "HD95",
    "hd": "HD (max)",
    "assd": "ASSD",
    "nsd": "normalised surface Dice",
    "bf1": "boundary F1",
}


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
    fig, ax = _axes(ax, (1.3 * scheme.num_classes + 2.4, 1.1 * scheme.num_classes + 1.8))
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
        ax=ax,
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.tick_params(axis="x", labelrotation=30)
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_title(title or f"Pixel confusion, row-normalised\n({int(cm.sum()):,} px)", fontsize=10)
    return fig


def plot_metric_distributions(
    df: pd.DataFrame,
    scheme: LabelScheme | str,
    metrics: Sequence[str] = ("dice", "iou", "hd95"),
    kind: str = "box",
    axes=None,
    title: str | None = None,
) -> Figure:
    """Per-class box (or violin) plots of per-image metrics from the tidy table.

    Distance metrics are labelled with their unit (px or um). Images with NaN
    (both masks empty) are left out; the number of values per class is shown
    in the tick label.
    """
    scheme = get_scheme(scheme)
    if axes is None:
        ncols = min(2, len(metrics))  # two a row: legible at the page width
        nrows = -(-len(metrics) // ncols)
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(3.6 * ncols, 3.4 * nrows), layout="constrained", squeeze=False
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
        ax.set_ylabel(
            f"{METRIC_LABELS.get(metric, metric)} ({unit})"
            if unit != "fraction"
            else METRIC_LABELS.get(metric, metric)
        )
        ax.set_title(METRIC_LABELS.get(metric, metric))
    fig.suptitle(title or "Per-image metrics by class")
    return fig


def worst_cases(
    df: pd.DataFrame, metric: str = "hd95", cls: str | None = None, n: int = 4
) -> pd.DataFrame:
    """The ``n`` images with the worst ``metric`` (largest distance / smallest overlap).

    Returns rows of the tidy table (image, class, value, unit, empty_case).
    """
    sub = df[(df.metric == metric)].dropna(subset=["value"])
    if cls is not None:
        sub = sub[sub["class"] == cls]
    ascending = metric not in ("hd95", "hd", "assd")
    return sub.sort_values("value", ascending=ascending).head(n)


def plot_worst_cases(
    images: dict[str, np.ndarray] | Sequence[np.ndarray],
    masks: dict[str, np.ndarray] | Sequence[np.ndarray],
    preds: dict[str, np.ndarray] | Sequence[np.ndarray],
    df: pd.DataFrame,
    scheme: LabelScheme | str,
    metric: str = "hd95",
    cls: str | None = None,
    n: int = 4,
) -> Figure:
    """Gallery of the worst images by ``metric``: image, truth, prediction, contours per row.

    ``images``/``masks``/``preds`` are dicts keyed by image name (or sequences
    in the order of ``df``'s image names ``"0", "1", ...``).
    """
    scheme = get_scheme(scheme)

    def get(store, name):
        return store[name] if isinstance(store, dict) else store[int(name)]

    worst = worst_cases(df, metric, cls, n)
    fig, axes = plt.subplots(
        max(len(worst), 1),
        4,
        figsize=(7.6, 2.1 * max(len(worst), 1)),
        layout="constrained",
        squeeze=False,
    )
    for row, (_, r) in zip(axes, worst.iterrows(), strict=False):
        img, truth, pred = get(images, r["image"]), get(masks, r["image"]), get(preds, r["image"])
        row[0].imshow(img)
        row[0].set_title(f"{r['image']}", fontsize="small")
        row[1].imshow(scheme.colourise(truth))
        row[1].set_title("truth", fontsize="small")
        row[2].imshow(scheme.colourise(pred))
        row[2].set_title("prediction", fontsize="small")
        label = METRIC_LABELS.get(metric, metric)
        unit = "" if r["unit"] == "fraction" else f" {r['unit']}"
        plot_contour_comparison(
            img,
            truth,
            pred,
            scheme,
            ax=row[3],
            title=f"{r['class']}: {label} {r['value']:.3g}{unit} ({r['empty_case']})",
        )
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("")
            ax.set_ylabel("")
    fig.suptitle(
        f"Worst {len(worst)} images by {METRIC_LABELS.get(metric, metric)}"
        + (f" ({cls})" if cls else "")
    )
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
    """Image, softmax entropy (nats) and TTA variance side by side, truth contours on the maps."""
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.9), layout="constrained")
    fig = axes[0].figure
    axes[0].imshow(image)
    axes[0].set_title("image")
    for ax, data, name, unit in (
        (axes[1], entropy_map, "softmax entropy", "nats"),
        (axes[2], variance_map, "TTA variance (mean over classes)", "probability$^2$"),
    ):
        im = ax.imshow(data, cmap="magma")
        fig.colorbar(im, ax=ax, shrink=0.8, label=unit)
        ax.set_title(name)
        if truth is not None and scheme is not None:
            from papseg_utils.viz.boundaries import _contours

            sch = get_scheme(scheme)
            for c in range(1, sch.num_classes):
                _contours(ax, truth == c, sch.colour(c, 1.0), "-", 0.8)
    for ax in axes:
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    fig.suptitle(title or "Where is the model unsure?")
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
            df = evaluate(preds, masks, "herlev3", empty_policy=policy)
            s = summarise(df).set_index(["class", "metric"])
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
