"""Plots for the augmentation chapter: transforms and policies with mask contours.

Each panel shows an augmented image with the augmented mask drawn over it as
class-coloured contours (palette from :mod:`papseg_utils.labels`), and pixels
the mask marks ``IGNORE_INDEX`` (padding, dropout holes) shaded gray, so a
reader sees at a glance whether image and mask still agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import albumentations as A
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from papseg_utils.labels import (
    IGNORE_COLOUR,
    IGNORE_INDEX,
    LabelScheme,
    condition_colours,
    get_scheme,
)
from papseg_utils.viz.legibility import PAGE_WIDTH_IN
from papseg_utils.viz.samples import TITLE_PT, add_class_legend, plot_contours, wrap_title


def show_augmented(
    ax: plt.Axes,
    image: np.ndarray,
    mask: np.ndarray,
    scheme: str | LabelScheme,
    title: str = "",
    linewidth: float = 1.0,
) -> plt.Axes:
    """Draw ``image`` (H, W, 3) uint8 with ``mask`` (H, W) contours and gray ignore pixels."""
    ax.imshow(image)
    ignore = np.asarray(mask) == IGNORE_INDEX
    if ignore.any():
        rgba = np.zeros((*ignore.shape, 4), np.float32)
        rgba[ignore] = (*(np.array(IGNORE_COLOUR) / 255), 0.75)
        ax.imshow(rgba)
    plot_contours(ax, np.where(ignore, 0, mask), scheme, linewidth=linewidth)
    ax.set_title(title, fontsize=TITLE_PT)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _grid(
    n: int, ncols: int, panel: float, aspect: float = 1.0
) -> tuple[Figure, np.ndarray, float]:
    """``n`` panels, at most the page wide; returns the figure, the axes and the panel width.

    ``aspect`` is the images' height / width: rows are as tall as the images they show
    (between 0.4 and 1.5 panel widths), so a wide cell leaves no empty band between rows.
    """
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    panel = min(panel, PAGE_WIDTH_IN / ncols)
    height = panel * float(np.clip(aspect, 0.4, 1.5))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel * ncols, (height + 0.5) * nrows + 0.9),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel(), panel


def _finish(fig: Figure, scheme: LabelScheme, title: str) -> None:
    fig.suptitle(title)
    add_class_legend(fig, scheme, include_ignore=True, loc="outside lower center", ncols=5)


def show_transforms(
    image: np.ndarray,
    mask: np.ndarray,
    scheme: str | LabelScheme,
    transforms: Sequence[tuple[str, Callable[..., dict]]],
    seed: int = 0,
    ncols: int = 4,
    panel: float = 2.4,
    title: str = "",
) -> Figure:
    """One panel per transform (``(name, transform)`` pairs), the original first.

    Each transform is applied once to (image, mask) with its RNG seeded by
    ``seed``. The figure is at most the page wide; long names wrap. Returns the figure.
    """
    scheme = get_scheme(scheme)
    h, w = mask.shape
    fig, axes, side = _grid(len(transforms) + 1, ncols, panel, aspect=h / w)
    show_augmented(axes[0], image, mask, scheme, "original")
    for ax, (name, t) in zip(axes[1:], transforms, strict=False):
        if isinstance(t, A.BasicTransform | A.BaseCompose):
            t.set_random_seed(seed)
        out = t(image=image, mask=mask)
        show_augmented(ax, out["image"], out["mask"], scheme, wrap_title(name, side))
    _finish(fig, scheme, title or f"One draw of each transform ({w}x{h} px, contours = mask)")
    return fig


def show_policy(
    image: np.ndarray,
    mask: np.ndarray,
    scheme: str | LabelScheme,
    policy: Callable[..., dict],
    n: int = 8,
    ncols: int = 4,
    panel: float = 2.4,
    title: str = "",
) -> Figure:
    """``n`` random draws of ``policy`` on one (image, mask) pair, the original first."""
    scheme = get_scheme(scheme)
    fig, axes, _ = _grid(n + 1, ncols, panel, aspect=mask.shape[0] / mask.shape[1])
    show_augmented(axes[0], image, mask, scheme, "original")
    for i, ax in enumerate(axes[1 : n + 1], start=1):
        out = policy(image=image, mask=mask)
        show_augmented(ax, out["image"], out["mask"], scheme, f"draw {i}")
    h, w = mask.shape
    _finish(fig, scheme, title or f"{n} random draws ({w}x{h} px input)")
    return fig


def policy_hue_limits() -> dict[str, float]:
    """The largest hue shift (OpenCV units, 180 = full circle) each policy may draw.

    Read from the ``HueSaturationValue`` transform of
    :func:`papseg_utils.augment.medical_transforms`, so that the labels of
    :func:`show_hue_shifts` follow the policies: ``{"medical": 4.0, "strong": 8.0}``.
    """
    from papseg_utils import augment as au

    limits = {}
    for strength in ("medical", "strong"):
        hsv = dict(au.medical_transforms(strength))["HueSaturationValue"]
        limits[strength] = float(max(abs(v) for v in hsv.hue_shift_limit))
    return limits


def hue_shift_label(shift: float, limits: dict[str, float] | None = None) -> str:
    """Panel title of one hue shift: ``"hue +4 (medical)"``, ``"hue +20 (never)"``.

    The name in brackets is the mildest policy whose hue range holds ``shift``
    (:func:`policy_hue_limits`); ``never`` when no policy draws it.
    """
    limits = policy_hue_limits() if limits is None else limits
    allowed = [
        name for name, limit in sorted(limits.items(), key=lambda kv: kv[1]) if abs(shift) <= limit
    ]
    return f"hue {shift:+g} ({allowed[0] if allowed else 'never'})"


def show_hue_shifts(
    image: np.ndarray,
    mask: np.ndarray,
    scheme: str | LabelScheme,
    shifts: Sequence[float] = (0, 4, 20, 60, 120),
    panel: float = 2.4,
    ncols: int = 3,
) -> Figure:
    """The same image under growing hue shifts (OpenCV hue units, 180 = full circle).

    Each panel applies one fixed hue shift (saturation and value unchanged) and is
    titled with the mildest policy that may draw it (:func:`hue_shift_label`: ``medical``
    up to 4, ``strong`` up to 8, else ``never``); the shift 0 is the original. Shows why
    the policies keep hue shifts tiny: past a few units green (light green SF) cytoplasm
    turns pink (eosin) or blue nuclei turn green, i.e. the augmentation changes the
    stain semantics.
    """
    limits = policy_hue_limits()
    transforms = [
        (
            hue_shift_label(s, limits),
            A.HueSaturationValue(
                hue_shift_limit=(s, s), sat_shift_limit=(0, 0), val_shift_limit=(0, 0), p=1.0
            ),
        )
        for s in shifts
        if s != 0
    ]
    return show_transforms(
        image,
        mask,
        scheme,
        transforms,
        ncols=ncols,
        panel=panel,
        title="Hue shifts: small ones model scanners,\nlarge ones change what the stain means",
    )


def show_field_crops(
    image: np.ndarray,
    mask: np.ndarray,
    scheme: str | LabelScheme,
    random_origins: Sequence[tuple[int, int]],
    window_origins: Sequence[tuple[int, int]],
    crop_size: int,
    window: int,
    panel: float = PAGE_WIDTH_IN / 2,
) -> Figure:
    """A large field with random training crops (left) and sliding windows (right).

    Origins are (y, x) top-left corners in px, as in the crop datasets' items.
    """
    from matplotlib.patches import Rectangle

    scheme = get_scheme(scheme)
    fig, axes = plt.subplots(1, 2, figsize=(2 * panel, panel + 0.9), layout="constrained")
    h, w = mask.shape
    colours = condition_colours(["crops", "windows"])
    panels = [
        (
            random_origins,
            crop_size,
            colours["crops"],
            f"{len(random_origins)} random {crop_size} px crops",
        ),
        (
            window_origins,
            window,
            colours["windows"],
            f"{len(window_origins)} sliding {window} px windows",
        ),
    ]
    for ax, (origins, size, colour, title) in zip(axes, panels, strict=True):
        show_augmented(ax, image, mask, scheme, title, linewidth=0.8)
        for y, x in origins:
            ax.add_patch(Rectangle((x, y), size, size, fill=False, ec=colour, lw=1.5, alpha=0.8))
        ax.set_xlim(-0.5, w - 0.5)
        ax.set_ylim(h - 0.5, -0.5)
        ax.set_xticks([0, w // 2, w - 1])
        ax.set_yticks([0, h // 2, h - 1])
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    fig.suptitle(f"Training and inference on a {w}x{h} px field")
    return fig
