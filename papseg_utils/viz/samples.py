"""Image + mask plots: overlays, sample grids, class legends, contours."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

import cv2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from papseg_utils.labels import IGNORE_COLOUR, LabelScheme, get_scheme
from papseg_utils.viz.legibility import PAGE_WIDTH_IN

TITLE_PT: float = 10.0
"""Font size (pt) of panel titles and legends: 13.9 px on the page, never shrunk."""


def overlay(
    image: np.ndarray, mask: np.ndarray, scheme: str | LabelScheme, alpha: float = 0.45
) -> np.ndarray:
    """Blend class colours over ``image`` where the mask is not background.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    mask : (H, W) integer labels of ``scheme`` (ignore pixels shown gray)
    alpha : opacity of the class colours

    Returns
    -------
    (H, W, 3) uint8
    """
    scheme = get_scheme(scheme)
    mask = np.asarray(mask)
    if image.shape[:2] != mask.shape:
        raise ValueError(f"overlay: image {image.shape[:2]} and mask {mask.shape} differ in size")
    colours = scheme.colourise(mask).astype(np.float32)
    a = np.where(mask > 0, alpha, 0.0).astype(np.float32)[..., None]
    out = image.astype(np.float32) * (1 - a) + colours * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def add_class_legend(
    ax: plt.Axes,
    scheme: str | LabelScheme,
    include_background: bool = False,
    include_ignore: bool = False,
    **kwargs,
):
    """Add a legend of class colours to ``ax`` (or a figure, via ``fig.legend`` if given one)."""
    scheme = get_scheme(scheme)
    ids = range(scheme.num_classes) if include_background else range(1, scheme.num_classes)
    handles = [
        Patch(facecolor=scheme.colour(i, 1.0), edgecolor="k", label=scheme.label(i)) for i in ids
    ]
    if include_ignore:
        handles.append(
            Patch(facecolor=np.array(IGNORE_COLOUR) / 255, edgecolor="k", label="ignored")
        )
    kwargs.setdefault("loc", "lower center")
    kwargs.setdefault("fontsize", TITLE_PT)
    kwargs.setdefault("ncols", len(handles))
    return ax.legend(handles=handles, **kwargs)


def plot_contours(
    ax: plt.Axes, mask: np.ndarray, scheme: str | LabelScheme, linewidth: float = 1.2
) -> plt.Axes:
    """Draw the outline of each foreground class of ``mask`` on ``ax`` in its class colour."""
    scheme = get_scheme(scheme)
    mask = np.asarray(mask)
    for i in range(1, scheme.num_classes):
        m = (mask == i).astype(np.uint8)
        if not m.any():
            continue
        contours, _ = cv2.findContours(m, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        for c in contours:
            xy = c[:, 0, :]
            xy = np.vstack([xy, xy[:1]])
            ax.plot(xy[:, 0], xy[:, 1], color=scheme.colour(i, 1.0), linewidth=linewidth)
    return ax


def legend_columns(labels: Sequence[str], width_in: float, fontsize: float = TITLE_PT) -> int:
    """How many legend entries (swatch + label) fit side by side in ``width_in`` inches."""
    entry_in = 0.55 + max(len(t) for t in labels) * 0.58 * fontsize / 72
    return max(1, min(len(labels), int(width_in // entry_in)))


def wrap_title(text: str, panel_in: float, fontsize: float = TITLE_PT) -> str:
    """Break ``text`` into lines that fit a ``panel_in`` inch wide panel at ``fontsize`` pt.

    Breaks at spaces, underscores and CamelCase humps (``RandomBrightness`` /
    ``Contrast``), so transform and class names stay whole words.
    """
    chars = max(6, int(panel_in * 72 / (0.58 * fontsize)))
    words = (
        re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text.replace("_", " ")) if len(text) > chars else text
    )
    return textwrap.fill(words, width=chars, break_long_words=False)


def show_samples(
    images: Sequence[np.ndarray],
    masks: Sequence[np.ndarray] | None,
    scheme: str | LabelScheme,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    alpha: float = 0.45,
    panel_size: float = 2.6,
    suptitle: str | None = None,
    legend: bool = True,
):
    """Grid of images with their masks overlaid in class colours, and a legend.

    The figure is never wider than the book's page (:data:`PAGE_WIDTH_IN`), so
    panels shrink with ``ncols`` while titles keep a readable size (long ones wrap).

    Parameters
    ----------
    images : sequence of (H, W, 3) uint8
    masks : sequence of (H, W) labels, or None for images only
    scheme : label scheme of the masks
    titles : one per image, optional
    ncols : panels per row
    panel_size : largest side of a panel, inches

    Returns
    -------
    matplotlib.figure.Figure
    """
    scheme = get_scheme(scheme)
    n = len(images)
    if n == 0:
        raise ValueError("show_samples: no images given")
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    panel = min(panel_size, PAGE_WIDTH_IN / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel * ncols, (panel + 0.35) * nrows + 0.7),
        squeeze=False,
        layout="constrained",
    )
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            continue
        img = images[k] if masks is None else overlay(images[k], masks[k], scheme, alpha)
        ax.imshow(img)
        if titles is not None:
            ax.set_title(wrap_title(titles[k], panel), fontsize=TITLE_PT)
    if legend and masks is not None:
        labels = [scheme.label(i) for i in range(1, scheme.num_classes)]
        ncols = legend_columns(labels, panel * ncols)
        add_class_legend(fig, scheme, loc="outside lower center", fontsize=TITLE_PT, ncols=ncols)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_side_by_side(
    left: Sequence[Sequence[np.ndarray]],
    right: Sequence[Sequence[np.ndarray]],
    row_labels: Sequence[str],
    left_title: str = "real",
    right_title: str = "synthetic",
    panel_size: float = 1.5,
):
    """Rows of images, ``left[r]`` next to ``right[r]`` (e.g. Herlev vs synthetic cells per class).

    Each image is shown at its own aspect ratio in a square panel; panels shrink so
    that the figure stays one page wide. Returns the figure.
    """
    nrows = len(row_labels)
    nl = max((len(r) for r in left), default=0)
    nr = max((len(r) for r in right), default=0)
    ncols = nl + nr
    if nrows == 0 or ncols == 0:
        raise ValueError("plot_side_by_side: nothing to show")
    label_in = 1.0  # room for the row labels
    panel = min(panel_size, (PAGE_WIDTH_IN - label_in) / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel * ncols + label_in, panel * nrows + 0.5),
        squeeze=False,
        layout="constrained",
    )
    for r in range(nrows):
        row = list(left[r])[:nl] + [None] * (nl - len(left[r])) + list(right[r])[:nr]
        for c, img in enumerate(row):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for sp in ax.spines.values():
                sp.set_visible(False)
            if img is not None:
                ax.imshow(img)
            if c == 0:
                ax.set_ylabel(row_labels[r].replace("_", "\n"), fontsize=9)
    if nl:
        axes[0, (nl - 1) // 2].set_title(left_title, loc="left" if nl % 2 == 0 else "center")
    if nr:
        axes[0, nl + (nr - 1) // 2].set_title(right_title, loc="left" if nr % 2 == 0 else "center")
    return fig


def plot_scheme_swatches(schemes: Sequence[str | LabelScheme] | None = None) -> Figure:
    """One row of colour swatches per label scheme, each labelled with its class name.

    ``schemes`` defaults to every scheme of :data:`papseg_utils.labels.SCHEMES`.
    Returns a figure one page wide.
    """
    from papseg_utils.labels import SCHEMES

    rows = [get_scheme(s) for s in (schemes if schemes is not None else SCHEMES.values())]
    width = max(s.num_classes for s in rows)
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH_IN, 0.95 * len(rows) + 0.6), layout="constrained")
    for row, scheme in enumerate(rows):
        for i in range(scheme.num_classes):
            ax.add_patch(
                plt.Rectangle((i, -row - 0.62), 0.9, 0.5, color=scheme.colour(i, 1.0), ec="0.3")
            )
            label = scheme.label(i).replace(" ", "\n", 1)
            ax.text(i + 0.45, -row - 0.66, label, ha="center", va="top", fontsize=9)
    ax.set_yticks([-r - 0.37 for r in range(len(rows))], [s.name for s in rows])
    ax.set(xlim=(-0.05, width), ylim=(-len(rows) - 0.1, 0.0), xticks=[])
    ax.set_title("Class colours of each label scheme")
    ax.spines[:].set_visible(False)
    ax.tick_params(length=0)
    return fig
