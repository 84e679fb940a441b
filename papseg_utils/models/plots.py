"""Figures for the transfer-learning and architecture chapters (matplotlib; return the figure)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

FAMILY_COLOURS = {"cnn": "#0072B2", "transformer": "#D55E00", "io": "#999999"}


def plot_topk(image: np.ndarray, table: pd.DataFrame, title: str = "") -> Figure:
    """Photo (H,W,3) uint8 beside a bar chart of its top-k ImageNet classes (probability)."""
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [1, 1.4]})
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
    fig, axes = plt.subplots(1, len(grids), figsize=(4.2 * len(grids), 2.6))
    for ax, (name, grid) in zip(np.atleast_1d(axes), grids.items(), strict=True):
        ax.imshow(grid, interpolation="nearest")
        ax.set_axis_off()
        extra = f"\nneighbour corr. {stats[name]['neighbour_correlation']:.2f}" if stats else ""
        ax.set_title(f"{name}{extra}")
    fig.suptitle("First-layer 3x3 filters (RGB, grey = 0)")
    fig.tight_layout()
    return fig


def plot_feature_maps(image: np.ndarray, rows: dict[str, np.ndarray], stage_px: int) -> Figure:
    """An input image and, per row, the most active channels (n,h,w) of one encoder stage."""
    n = max(m.shape[0] for m in rows.values())
    fig, axes = plt.subplots(
        len(rows), n + 1, figsize=(1.5 * (n + 1), 1.7 * len(rows)), squeeze=False
    )
    for r, (name, maps) in enumerate(rows.items()):
        axes[r, 0].imshow(image)
        axes[r, 0].set_title("input" if r == 0 else "")
        axes[r, 0].set_ylabel(name)
        for c in range(n):
            axes[r, c + 1].imshow(maps[c], cmap="magma")
            if r == 0:
                axes[r, c + 1].set_title(f"ch. {c + 1}", fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"Strongest feature maps of the stride-{stage_px} stage (each min-max scaled)")
    fig.tight_layout()
    return fig


def plot_erfs(erfs: dict[str, np.ndarray], radii: dict[str, float] | None = None) -> Figure:
    """Effective receptive fields (S,S) in [0,1], log colour scale, 90 % mass circle."""
    fig, axes = plt.subplots(1, len(erfs), figsize=(3.3 * len(erfs), 3.4), squeeze=False)
    for ax, (name, erf) in zip(axes[0], erfs.items(), strict=True):
        im = ax.imshow(np.log10(erf + 1e-6), cmap="viridis", vmin=-4, vmax=0)
        s = erf.shape[0]
        if radii:
            ax.add_patch(plt.Circle((s // 2, s // 2), radii[name], fill=False, color="w", ls="--"))
            name = f"{name}\nr90 = {radii[name]:.0f} px"
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    fig.colorbar(im, ax=axes[0].tolist(), label="log10 |d out / d in| (norm.)", shrink=0.8)
    fig.suptitle("Effective receptive field of the centre output pixel (untrained weights)")
    return fig


def _box(ax, x, y, w, h, text, colour, fs=8):
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
        color="white" if colour != "#999999" else "k",
    )


def _arrow(ax, a, b, style="-|>", ls="-", colour="k"):
    ax.add_patch(
        FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=10, ls=ls, color=colour, lw=1)
    )


def plot_architecture(kind: str, ax=None) -> Figure:
    """Schematic of ``kind`` in {"unet", "segformer", "transunet"}: encoder stages with their
    resolution (fraction of the input), decoder and skip connections."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.4))
    fig = fig or ax.figure
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6)
    ax.set_axis_off()
    enc_c = {"unet": "cnn", "segformer": "transformer", "transunet": "cnn"}[kind]
    levels = (
        ["1/2", "1/4", "1/8", "1/16", "1/32"]
        if kind != "segformer"
        else ["1/4", "1/8", "1/16", "1/32"]
    )
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
            _box(
                ax,
                4.8,
                yb - 0.05,
                2.2,
                0.7,
                "Transformer layers\n(tokens = 1/32 grid)",
                FAMILY_COLOURS["transformer"],
            )
            _arrow(ax, (2.1 + (n - 1) * 0.55, yb + 0.3), (4.8, yb + 0.3))
            _arrow(ax, (7.0, yb + 0.3), (8.1 - (n - 2) * 0.55, yb + 0.75))
        for i in range(n - 1):
            y = 4.9 - i * (4.2 / n) - 0.6
            _box(ax, 7.9 - i * 0.55, y, 1.5, 0.6, f"up + conv\n{levels[i]}", FAMILY_COLOURS[enc_c])
        _box(ax, 8.4, 5.0, 1.5, 0.7, "logits\nC x H x W", FAMILY_COLOURS["io"])
        title = {"unet": "U-Net: CNN encoder, decoder, skip connections (dashed)",
                 "transunet": "TransUNet: CNN encoder, Transformer bottleneck, U-Net decoder"}[kind]  # fmt: skip
    ax.set_title(title, fontsize=10)
    return fig


def plot_architectures() -> Figure:
    """The three schematics (CNN, Transformer, hybrid) in one figure."""
    fig, axes = plt.subplots(1, 3, figsize=(17, 3.8))
    for ax, kind in zip(axes, ["unet", "segformer", "transunet"], strict=True):
        plot_architecture(kind, ax=ax)
    handles = [plt.Rectangle((0, 0), 1, 1, fc=c) for c in FAMILY_COLOURS.values()]
    fig.legend(
        handles,
        ["convolution", "attention", "input / output"],
        loc="lower center",
        ncol=3,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
