"""What letterboxing does to a cell's size, next to the scale-true geometry (chapter 6)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from papseg_utils.data.resize import letterbox
from papseg_utils.data.spacing import PAD_COLOUR, to_target_spacing
from papseg_utils.labels import LabelScheme


def nucleus_diameter_um(mask: np.ndarray, nucleus_id: int, pixel_size_um: float) -> float:
    """Equivalent diameter (um) of the nucleus pixels of a (H, W) mask: ``2 sqrt(area / pi)``."""
    area = float((np.asarray(mask) == nucleus_id).sum()) * pixel_size_um**2
    return 2.0 * float(np.sqrt(area / np.pi))


def _canvas(image: np.ndarray, side_h: int, side_w: int) -> np.ndarray:
    """``image`` centred on a gray canvas of (side_h, side_w) (cropped centrally if larger)."""
    h, w = image.shape[:2]
    out = np.empty((side_h, side_w, 3), np.uint8)
    out[...] = np.asarray(PAD_COLOUR, np.uint8)
    top, left = (side_h - h) // 2, (side_w - w) // 2
    src = image[
        max(0, -top) : max(0, -top) + min(h, side_h), max(0, -left) : max(0, -left) + min(w, side_w)
    ]
    out[max(0, top) : max(0, top) + src.shape[0], max(0, left) : max(0, left) + src.shape[1]] = src
    return out


def plot_letterbox_vs_true_scale(
    samples: Sequence,
    scheme: LabelScheme,
    pixel_size_um: float,
    target_spacing_um: float,
    letterbox_size: int = 224,
    titles: Sequence[str] | None = None,
    scale_bar_um: float = 20.0,
):
    """The same cells as the letterbox recipe and as the scale-true recipe give them to the network.

    Top row: each image letterboxed to ``letterbox_size`` px, so every cell fills the square
    and its factor (``letterbox_size / long side``) is printed. Bottom row: each image
    resampled from ``pixel_size_um`` to ``target_spacing_um`` and drawn on one common canvas,
    so a larger cell is drawn larger, with a ``scale_bar_um`` scale bar; the titles give the
    nucleus' equivalent diameter in um (the same in both rows: only the drawing changes).

    ``samples`` are :class:`~papseg_utils.data.base.Sample` (image (H, W, 3) uint8, mask
    (H, W) uint8 of ``scheme``, which needs a ``nucleus`` class). Returns the figure.
    """
    import matplotlib.pyplot as plt

    nuc = scheme.classes.index("nucleus")
    scaled = [
        to_target_spacing(s.image, s.mask, pixel_size_um, target_spacing_um)[0] for s in samples
    ]
    side_h = max(im.shape[0] for im in scaled)
    side_w = max(im.shape[1] for im in scaled)
    n = len(samples)
    fig, axes = plt.subplots(2, n, figsize=(3.4 * n, 7.0), squeeze=False)
    for i, s in enumerate(samples):
        boxed = letterbox(s.image, None, letterbox_size)[0]
        factor = letterbox_size / max(s.image.shape[:2])
        diameter = nucleus_diameter_um(s.mask, nuc, pixel_size_um)
        name = titles[i] if titles else s.group
        axes[0, i].imshow(boxed)
        axes[0, i].set_title(f"{name}\nletterbox: x{factor:.2f}", fontsize=11)
        axes[1, i].imshow(_canvas(scaled[i], side_h, side_w))
        axes[1, i].set_title(f"true scale: nucleus {diameter:.1f} um", fontsize=11)
        bar = scale_bar_um / target_spacing_um
        axes[1, i].plot([8, 8 + bar], [side_h - 10] * 2, color="black", lw=3)
        axes[1, i].text(8 + bar / 2, side_h - 16, f"{scale_bar_um:g} um", ha="center", fontsize=10)
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel(f"letterboxed to {letterbox_size} px", fontsize=11)
    axes[1, 0].set_ylabel(f"at {target_spacing_um:g} um/px", fontsize=11)
    fig.tight_layout()
    return fig
