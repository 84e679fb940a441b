"""Figures for the transfer-learning and architecture chapters (matplotlib; return the figure)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from papseg_utils.labels import condition_colours

FAMILY_COLOURS = condition_colours(["cnn", "transformer", "io"])
"""Box colours of the schematics: compared settings, never a class colour (see labels)."""
SCHEMATIC_STRIDES = {"unet": (2, 4, 8, 16, 32), "segformer": (4, 8, 16, 32),
                     "transunet": (2, 4, 8, 16, 32)}  # fmt: skip
"""The encoder stages each schematic draws, as downsampling factors of the input; the test
suite checks them against the strides of the registry's models (tests/test_architecture_schematics.py)."""
BOX_PT = 9.5
"""Font size (pt) of the schematics' box labels: 13 px on the page at 7 inches wide."""


def plot_topk(image: np.ndarray, table: pd.DataFrame, title: str = "") -> Figure:
    """Photo (H,W,3) uint8 beside a bar chart of its top-k ImageNet classes (probability)."""
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(7, 2.8), gridspec_kw={"width_ratios": [1, 1.4]})
    a0.imshow(image)
    a0.set_axis_off()
    a0.set_title(title)
    a1.barh(table["name"][::-1], table["probability"][::-1], color=FAMILY_COLOURS["cnn"])
    a1.set_xlim(0, 1)
    a1.set_xlabel("softmax probability")
    a1.set_title("top-5 ImageNet classes")
    fig.tight_layout()
    return fig


def plot_filter_grids(grids: dict[str, np.ndarray], stats: dict[str, dict] | None = None) -> Figure:
    """Side-by-side first-layer filter mosaics (from :func:`inspect.filter_grid`)."""
    fig, axes = plt.subplots(1, len(grids), figsize=(min(3.4 * len(grids), 7.0), 2.8))
    for ax, (name, grid) in zip(np.atleast_1d(axes), grids.items(), strict=True):
        ax.imshow(grid, interpolation="nearest")
        ax.set_axis_off()
        extra = f"\nneighbour corr. {stats[name]['neighbour_correlation']:.2f}" if stats else ""
        ax.set_title(f"{name}{extra}")
    fig.suptitle("First-layer 3x3 filters (RGB, grey = 0)")
    fig.tight_layout()
    return fig


def plot_feature_maps(
    image: np.ndarray, rows: dict[str, np.ndarray], stage_px: int, per_row: int = 8
) -> Figure:
    """An input image and, per source, the most active channels (n,h,w) of one encoder stage.

    At most ``per_row`` channels per line (more wrap onto further lines, so that the panel
    titles never run into each other), and panels shrink so that the figure stays one page
    (7 in) wide.
    """
    n = max(m.shape[0] for m in rows.values())
    ncols = max(1, min(n, per_row))
    lines = -(-n // ncols)
    side = min(1.5, 7.0 / (ncols + 1))
    nrows = len(rows) * lines
    fig, axes = plt.subplots(
        nrows,
        ncols + 1,
        figsize=(side * (ncols + 1), (side + 0.3) * nrows + 0.6),
        squeeze=False,
        layout="constrained",
    )
    for r, (name, maps) in enumerate(rows.items()):
        for line in range(lines):
            row = axes[r * lines + line]
            if line == 0:
                row[0].imshow(image)
                row[0].set_title("input" if r == 0 else "", fontsize=9)
                row[0].set_ylabel(name)
            else:
                row[0].set_axis_off()
            for c in range(ncols):
                k = line * ncols + c
                if k >= maps.shape[0]:
                    row[c + 1].set_axis_off()
                    continue
                row[c + 1].imshow(maps[k], cmap="magma")
                if r == 0:
                    row[c + 1].set_title(f"ch. {k + 1}", fontsize=9)
            for ax in row:
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle(f"Strongest feature maps of the stride-{stage_px} stage\n(each min-max scaled)")
    return fig


DISTILL_TERMS = {"kl": "KL term", "feature": "feature-map term"}
"""Columns of a distillation ``history.csv`` drawn by :func:`plot_distill_losses`, and their titles."""


def plot_distill_losses(history: pd.DataFrame, title: str = "") -> Figure:
    """The two distillation losses of a ``history.csv`` over the steps, each on its own axis.

    ``history`` has the columns ``step``, ``kl`` and ``feature`` (as
    :class:`papseg_utils.distill.Distiller` writes them). The terms differ about
    thirtyfold early on, so one shared axis would flatten the feature-map curve.
    """
    colours = condition_colours(DISTILL_TERMS.values())
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.8), layout="constrained")
    for ax, (column, name) in zip(axes, DISTILL_TERMS.items(), strict=True):
        ax.plot(history["step"], history[column], marker="o", color=colours[name])
        ax.set(title=name, xlabel="step", ylabel="loss")
    if title:
        fig.suptitle(title)
    return fig


def plot_erfs(
    erfs: dict[str, np.ndarray], radii: dict[str, float] | None = None, ncols: int = 3
) -> Figure:
    """Effective receptive fields (S,S) in [0,1], log colour scale, 90 % mass circle.

    At most ``ncols`` panels per row, so the figure stays one page (7 in) wide; only
    the left column and the bottom row carry axis labels.
    """
    n = len(erfs)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    side = min(2.6, 6.2 / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(side * ncols + 0.9, (side + 0.6) * nrows + 0.5),
        squeeze=False,
        layout="constrained",
    )
    flat = axes.ravel()
    for k, (ax, (name, erf)) in enumerate(zip(flat, erfs.items(), strict=False)):
        im = ax.imshow(np.log10(erf + 1e-6), cmap="viridis", vmin=-4, vmax=0)
        s = erf.shape[0]
        if radii:
            ax.add_patch(plt.Circle((s // 2, s // 2), radii[name], fill=False, color="w", ls="--"))
            name = f"{name}\nr90 = {radii[name]:.0f} px"
        ax.set_title(name, fontsize=10)
        if k % ncols == 0:
            ax.set_ylabel("y (px)")
        if k + ncols >= n:
            ax.set_xlabel("x (px)")
    for ax in flat[n:]:
        ax.set_visible(False)
    fig.colorbar(im, ax=flat[:n].tolist(), label="log10 |d out / d in| (norm.)", shrink=0.8)
    fig.suptitle("Effective receptive field of the centre output pixel\n(untrained weights)")
    return fig


def _box(ax, x, y, w, h, text, colour, fs=BOX_PT):
    ax.add_patch(
        FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=colour, ec="k", alpha=0.85)
    )
    ax.text(
        x + w / 2,
        y + h / 2,
        text,
        ha="center",
        va="center",
        fontsize=fs,
        color="k" if colour == FAMILY_COLOURS["io"] else "white",
    )


def _arrow(ax, a, b, style="-|>", ls="-", colour="k"):
    ax.add_patch(
        FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=10, ls=ls, color=colour, lw=1)
    )


def plot_architecture(kind: str, ax=None, image_head: bool = True) -> Figure:
    """Schematic of ``kind`` in {"unet", "segformer", "transunet"}: encoder stages with their
    resolution (fraction of the input), decoder and skip connections; with ``image_head``, the
    image-level healthy/unhealthy head that every trained Herlev arm carries on its deepest
    encoder stage (for TransUNet the CNN's 1/32 features, before the Transformer)."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    fig = fig or ax.figure
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.25 if image_head else 0, 6)
    ax.set_axis_off()
    enc_c = {"unet": "cnn", "segformer": "transformer", "transunet": "cnn"}[kind]
    levels = [f"1/{s}" for s in SCHEMATIC_STRIDES[kind]]
    n = len(levels)
    _box(ax, 0.1, 5.0, 1.3, 0.7, "image\nH x W", FAMILY_COLOURS["io"])
    for i, lv in enumerate(levels):
        y = 4.9 - i * (4.2 / n) - 0.6
        label = {"unet": f"conv stage\n{lv}", "transunet": f"CNN stage\n{lv}",
                 "segformer": f"MiT block\n{lv}"}[kind]  # fmt: skip
        _box(ax, 0.6 + i * 0.55, y, 1.5, 0.6, label, FAMILY_COLOURS[enc_c])
        if kind == "segformer":
            _arrow(ax, (2.1 + i * 0.55, y + 0.3), (6.4, 2.6), ls="--")
        elif i < n - 1:
            _arrow(ax, (2.1 + i * 0.55, y + 0.3), (7.9 - i * 0.55, y + 0.3), ls="--")
    if kind == "segformer":
        _box(ax, 6.4, 2.2, 1.6, 0.9, "all-MLP\ndecoder\n(1/4)", FAMILY_COLOURS["transformer"])
        _box(ax, 8.3, 2.2, 1.5, 0.9, "upsample x4\nlogits H x W", FAMILY_COLOURS["io"])
        _arrow(ax, (8.0, 2.65), (8.3, 2.65))
        title = "SegFormer: hierarchical Transformer encoder + light MLP decoder"
    else:
        yb = 4.9 - (n - 1) * (4.2 / n) - 0.6
        if kind == "unet":
            _arrow(ax, (2.1 + (n - 1) * 0.55, yb + 0.3), (8.1 - (n - 2) * 0.55, yb + 0.75))
        if kind == "transunet":
            label = "Transformer\n(1/32 tokens)"
            _box(ax, 4.6, yb - 0.05, 1.8, 0.7, label, FAMILY_COLOURS["transformer"])
            _arrow(ax, (2.1 + (n - 1) * 0.55, yb + 0.3), (4.6, yb + 0.3))
            _arrow(ax, (6.4, yb + 0.3), (8.65 - (n - 2) * 0.55, yb + 0.84))
        for i in range(n - 1):
            y = 4.9 - i * (4.2 / n) - 0.6
            _box(ax, 7.9 - i * 0.55, y, 1.5, 0.6, f"up + conv\n{levels[i]}", FAMILY_COLOURS[enc_c])
        _box(ax, 8.4, 5.0, 1.5, 0.7, "logits\nC x H x W", FAMILY_COLOURS["io"])
        title = {"unet": "U-Net: CNN encoder, decoder, skip connections (dashed)",
                 "transunet": "TransUNet: CNN encoder, Transformer bottleneck, U-Net decoder"}[kind]  # fmt: skip
    if image_head:
        _image_head(ax, 0.6 + (n - 1) * 0.55, 4.9 - (n - 1) * (4.2 / n) - 0.6)
    ax.set_title(title, fontsize=11)
    return fig


def _image_head(ax, x: float, y: float) -> None:
    """The healthy/unhealthy head (heads.ImageHeadModel) under the deepest encoder box at (x, y):
    it pools that stage's features, whatever the decoder does with them."""
    _box(ax, x + 1.9, -0.1, 2.9, 0.7, "image head: pool + linear\nhealthy / unhealthy",
         FAMILY_COLOURS["io"])  # fmt: skip
    _arrow(ax, (x + 0.75, y), (x + 1.9, 0.25))


def plot_architectures() -> Figure:
    """The three schematics (CNN, Transformer, hybrid) stacked, one page width (7 in) wide."""
    fig, axes = plt.subplots(3, 1, figsize=(7, 10.8), layout="constrained")
    for ax, kind in zip(axes, ["unet", "segformer", "transunet"], strict=True):
        plot_architecture(kind, ax=ax)
    handles = [plt.Rectangle((0, 0), 1, 1, fc=c) for c in FAMILY_COLOURS.values()]
    fig.legend(
        handles,
        ["convolution", "attention", "input / output"],
        loc="outside lower center",
        ncols=3,
        frameon=False,
        fontsize=10,
    )
    return fig
