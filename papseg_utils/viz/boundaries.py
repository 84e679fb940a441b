"""Boundary plots: truth vs prediction contours, per-class error maps, and the
two boundary illustrations of the evaluation chapter (Dice vs HD95, HD vs HD95).

Colours come from the label scheme; truth contours are solid, predicted ones
dashed. Every helper takes ``ax=None`` and returns the figure.
"""

from __future__ import annotations

import cv2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from papseg_utils.labels import LabelScheme, get_scheme, outcome_colour
from papseg_utils.metrics.overlap import dice_score
from papseg_utils.metrics.surface import surface_distances

FP_COLOUR = outcome_colour("extra")  # magenta: predicted but not true
FN_COLOUR = outcome_colour("missed")  # white: true but missed
CORRECT_COLOUR = outcome_colour("correct")  # indigo: predicted and true (no class)


def _axes(ax, figsize=(5, 5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def _contours(ax, binary: np.ndarray, colour, style: str, lw: float) -> None:
    m = np.ascontiguousarray(binary, dtype=np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    for c in contours:
        xy = c[:, 0, :].astype(float)
        xy = np.vstack([xy, xy[:1]])
        ax.plot(xy[:, 0], xy[:, 1], color=colour, linestyle=style, linewidth=lw)


def plot_contour_comparison(
    image: np.ndarray,
    truth: np.ndarray,
    pred: np.ndarray,
    scheme: LabelScheme | str,
    ax: plt.Axes | None = None,
    title: str | None = None,
    linewidth: float = 1.5,
) -> Figure:
    """Image with true (solid) and predicted (dashed) contours of every foreground class.

    ``image`` (H, W, 3) uint8; ``truth``, ``pred`` (H, W) integer labels of ``scheme``.
    """
    scheme = get_scheme(scheme)
    fig, ax = _axes(ax)
    ax.imshow(image)
    for c in range(1, scheme.num_classes):
        colour = scheme.colour(c, 1.0)
        _contours(ax, truth == c, colour, "-", linewidth)
        _contours(ax, pred == c, colour, (0, (3, 2)), linewidth)
    handles = [
        Patch(color=scheme.colour(c, 1.0), label=scheme.label(c))
        for c in range(1, scheme.num_classes)
    ]
    handles += [
        Line2D([], [], color="k", linestyle="-", label="truth"),
        Line2D([], [], color="k", linestyle=(0, (3, 2)), label="prediction"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=9, framealpha=0.8)
    ax.set_title(title or "Contours: truth solid, prediction dashed")
    h, w = truth.shape
    ax.set_xlabel(f"x (px, {w} wide)")
    ax.set_ylabel(f"y (px, {h} high)")
    return fig


def error_map(
    truth: np.ndarray, pred: np.ndarray, class_id: int, ignore_index: int = 255
) -> np.ndarray:
    """Per-pixel outcome for one class: (H, W) uint8, 0 TN, 1 TP, 2 FP, 3 FN, 4 ignored."""
    t, p = truth == class_id, pred == class_id
    out = np.zeros(truth.shape, np.uint8)
    out[t & p] = 1
    out[~t & p] = 2
    out[t & ~p] = 3
    out[truth == ignore_index] = 4
    return out


def plot_error_maps(
    image: np.ndarray,
    truth: np.ndarray,
    pred: np.ndarray,
    scheme: LabelScheme | str,
    axes=None,
    title: str | None = None,
) -> Figure:
    """One panel per foreground class: TP in the class colour, FP magenta, FN white, on a dimmed image."""
    scheme = get_scheme(scheme)
    classes = list(range(1, scheme.num_classes))
    if axes is None:
        side = min(3.4, 7.6 / len(classes))  # the row fits the page width
        fig, axes = plt.subplots(
            1, len(classes), figsize=(side * len(classes), side + 0.4), layout="constrained"
        )
    axes = np.atleast_1d(axes)
    fig = axes[0].figure
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    base = np.repeat((0.25 + 0.35 * gray)[..., None], 3, axis=2)
    for ax, c in zip(axes, classes, strict=True):
        em = error_map(truth, pred, c, scheme.ignore_index)
        rgb = base.copy()
        rgb[em == 1] = scheme.colour(c, 1.0)
        rgb[em == 2] = FP_COLOUR
        rgb[em == 3] = FN_COLOUR
        rgb[em == 4] = (0.5, 0.5, 0.5)
        ax.imshow(rgb)
        n_fp, n_fn = int((em == 2).sum()), int((em == 3).sum())
        ax.set_title(f"{scheme.label(c)}: FP {n_fp} px, FN {n_fn} px", fontsize="small")
        ax.set_axis_off()
        ax.legend(
            handles=[
                Patch(color=scheme.colour(c, 1.0), label="TP"),
                Patch(color=FP_COLOUR, label="FP (extra)"),
                Patch(facecolor=FN_COLOUR, edgecolor="k", label="FN (missed)"),
            ],
            loc="lower right",
            fontsize=9,
        )
    fig.suptitle(title or "Per-class errors")
    return fig


def _disc(shape, cy, cx, r) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2


def dice_vs_hd95_example(size: int = 128) -> dict:
    """Two predictions with the same Dice and very different HD95.

    Truth: a disc of radius 24 px. Prediction A adds a 6x6 px block touching the
    disc; prediction B adds the same block far away in a corner. Same false
    positives (36 px), same Dice; HD95 sees the far speck.

    Returns a dict with ``truth``, ``near``, ``far`` (H, W) bool masks and
    ``metrics``: {"near"|"far": {"dice", "hd95", "hd"}} in px.
    """
    truth = _disc((size, size), size // 2, size // 2, 24)
    near = truth.copy()
    c = size // 2
    near[c - 3 : c + 3, c + 25 : c + 31] = True
    far = truth.copy()
    far[8:14, 8:14] = True
    metrics = {}
    for name, p in (("near", near), ("far", far)):
        s = surface_distances(p, truth)
        metrics[name] = {"dice": dice_score(p, truth), "hd95": s.hd95(), "hd": s.hd()}
    return {"truth": truth, "near": near, "far": far, "metrics": metrics}


def hd_vs_hd95_example(size: int = 128) -> dict:
    """One stray pixel: HD jumps to its distance, HD95 barely moves.

    Truth: disc of radius 24; prediction: the same disc shifted 2 px, plus
    (``outlier``) one pixel near a corner. Returns masks and metrics (px).
    """
    truth = _disc((size, size), size // 2, size // 2, 24)
    clean = _disc((size, size), size // 2, size // 2 + 2, 24)
    outlier = clean.copy()
    outlier[6, 6] = True
    metrics = {}
    for name, p in (("clean", clean), ("outlier", outlier)):
        s = surface_distances(p, truth)
        metrics[name] = {"dice": dice_score(p, truth), "hd95": s.hd95(), "hd": s.hd()}
    return {"truth": truth, "clean": clean, "outlier": outlier, "metrics": metrics}


def _mask_panel(ax, truth, pred, title: str) -> None:
    """Binary truth vs prediction on light gray: correct, extra and missed pixels."""
    rgb = np.full(truth.shape + (3,), 0.85)
    rgb[pred & truth] = CORRECT_COLOUR
    rgb[pred & ~truth] = FP_COLOUR
    rgb[~pred & truth] = FN_COLOUR
    ax.imshow(rgb)
    _contours(ax, truth, "k", "-", 1.0)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")


def plot_dice_vs_hd95(example: dict | None = None) -> Figure:
    """Figure of :func:`dice_vs_hd95_example`: same Dice, different HD95 (values in the titles)."""
    ex = example or dice_vs_hd95_example()
    fig, axes = plt.subplots(1, 2, figsize=(6.8, 3.7), layout="constrained")
    for ax, key, label in zip(
        axes, ("near", "far"), ("extra block touching", "extra block far away"), strict=True
    ):
        m = ex["metrics"][key]
        _mask_panel(
            ax, ex["truth"], ex[key], f"{label}\nDice {m['dice']:.3f}, HD95 {m['hd95']:.1f} px"
        )
    axes[1].legend(
        handles=[
            Patch(color=CORRECT_COLOUR, label="correct"),
            Patch(color=FP_COLOUR, label="false positive"),
            Patch(facecolor=FN_COLOUR, edgecolor="k", label="missed"),
            Line2D([], [], color="k", label="truth contour"),
        ],
        loc="lower right",
        fontsize=9,
    )
    fig.suptitle("Dice counts pixels; HD95 measures where the errors are")
    return fig


def plot_hd_vs_hd95(example: dict | None = None) -> Figure:
    """Figure of :func:`hd_vs_hd95_example`: one outlier pixel moves HD, not HD95."""
    ex = example or hd_vs_hd95_example()
    fig, axes = plt.subplots(1, 2, figsize=(6.8, 3.7), layout="constrained")
    for ax, key, label in zip(
        axes, ("clean", "outlier"), ("shifted 2 px", "shifted 2 px + 1 stray pixel"), strict=True
    ):
        m = ex["metrics"][key]
        _mask_panel(
            ax, ex["truth"], ex[key], f"{label}\nHD {m['hd']:.1f} px, HD95 {m['hd95']:.1f} px"
        )
    ys, xs = np.nonzero(ex["outlier"] & ~ex["clean"])
    axes[1].scatter(xs, ys, s=160, facecolors="none", edgecolors=FP_COLOUR, linewidths=1.5)
    axes[1].annotate("stray pixel", (xs[0], ys[0]), xytext=(xs[0] + 12, ys[0] + 10), fontsize=10)
    fig.suptitle("HD is the single worst boundary pixel; HD95 ignores the worst 5 %")
    return fig
