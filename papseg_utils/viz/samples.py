"""Image + mask plots: overlays, sample grids, class legends, contours."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from papseg_utils.labels import IGNORE_COLOUR, LabelScheme, get_scheme


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
    kwargs.setdefault("fontsize", "small")
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

    Parameters
    ----------
    images : sequence of (H, W, 3) uint8
    masks : sequence of (H, W) labels, or None for images only
    scheme : label scheme of the masks
    titles : one per image, optional
    ncols : panels per row

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
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows + 0.6), squeeze=False
    )
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            continue
        img = images[k] if masks is None else overlay(images[k], masks[k], scheme, alpha)
        ax.imshow(img)
        if titles is not None:
            ax.set_title(titles[k], fontsize="small")
    if legend and masks is not None:
        add_class_legend(fig, scheme, bbox_to_anchor=(0.5, 0.0))
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout(rect=(0, 0.06 if legend and masks is not None else 0, 1, 1))
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

    Each image is shown at its own aspect ratio in a square panel. Returns the figure.
    """
    nrows = len(row_labels)
    nl = max((len(r) for r in left), default=0)
    nr = max((len(r) for r in right), default=0)
    ncols = nl + nr
    if nrows == 0 or ncols == 0:
        raise ValueError("plot_side_by_side: nothing to show")
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows + 0.5), squeeze=False
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
                ax.set_ylabel(row_labels[r].replace("_", "\n"), fontsize="small")
    if nl:
        axes[0, (nl - 1) // 2].set_title(left_title, loc="left" if nl % 2 == 0 else "center")
    if nr:
        axes[0, nl + (nr - 1) // 2].set_title(right_title, loc="left" if nr % 2 == 0 else "center")
    fig.tight_layout()
    return fig
