"""Four-class masks (the ``paper`` scheme) from APACC boxes: a reconstruction.

.. warning::
   **This is a reconstruction, not ground truth.** APACC labels cells with
   boxes only; the paper does not say how its pixel masks were made. The masks
   built here take the cell/background split from a binary cell mask
   (APACS23-style) when one exists, otherwise from an automatic threshold
   inside each box, and the class from the boxes. A Dice score against masks
   made this way measures agreement with *this recipe*, not with a
   cytopathologist's outline: a model can score very high by learning the
   recipe (box-shaped class regions, Otsu edges) rather than cell boundaries.

The recipe (every choice is a field of :class:`PaperMaskConfig`):

1. **Foreground** (cell vs background): ``cell_mask > 0`` when a binary mask
   is given; otherwise, for each box, Otsu's threshold on a stain channel
   (``channel``: mean optical density by default, or HSV saturation, or
   inverted gray) computed over the box grown by ``otsu_context`` of its size
   (so background is present even for tight boxes), then morphological
   closing (``closing_radius``), hole filling and removal of components
   smaller than ``min_object_px``, all restricted to the box.
2. **Class regions**: every box, grown (or shrunk, if negative) by
   ``box_margin`` px, covers pixels with its class; APACC ids are mapped to
   the ``paper`` scheme by name (``bothcells`` -> ``both``).
3. **Painting** foreground pixels: healthy boxes paint ``healthy``, unhealthy
   boxes ``unhealthy``; foreground covered by both a healthy and an unhealthy
   box becomes ``overlap_label`` (default ``both``); foreground in a
   ``bothcells`` box is ``both``. Rubbish boxes paint ``rubbish``; where a
   rubbish box overlaps a cell box, ``rubbish_wins`` decides (default: the
   cell wins, since debris lying over a cell is usually boxed loosely).
4. **Elsewhere**: background pixels inside boxes are ``background``;
   foreground outside every box becomes ``unboxed`` (default ``IGNORE_INDEX``:
   an unannotated object whose class is unknown).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from scipy import ndimage

from papseg_utils.data.apacc import Box
from papseg_utils.data.base import Sample
from papseg_utils.labels import IGNORE_INDEX, PAPER

RECONSTRUCTION_NOTE = (
    "Four-class masks built from APACC boxes are a reconstruction: the cell/background split "
    "comes from a binary cell mask or an automatic threshold, the class from the boxes. Dice "
    "on such masks measures agreement with the recipe, not with hand-drawn outlines."
)


@dataclass(frozen=True)
class PaperMaskConfig:
    """Every assumption of the mask reconstruction, with its default.

    Attributes
    ----------
    channel : {"od", "saturation", "gray"}
        Channel thresholded when no cell mask is given: mean optical density
        ``-ln((I+1)/256)`` over RGB (stain amount; default), HSV saturation, or
        ``255 - gray``. Cells are the high side of Otsu's threshold.
    otsu_context : float
        Each box is grown by this fraction of its size for computing the
        threshold (not for painting), so background is sampled too.
    closing_radius : int
        Radius (px) of the disk used to close gaps in the thresholded foreground.
    fill_holes : bool
        Fill holes in each box's foreground (pale nuclei inside cytoplasm).
    min_object_px : int
        Remove thresholded components smaller than this (specks).
    box_margin : float
        Grow (> 0) or shrink (< 0) boxes by this many px when painting classes.
    overlap_label : {"both", "unhealthy", "healthy"}
        Label of foreground inside both a healthy and an unhealthy box.
    rubbish_wins : bool
        If True, rubbish boxes paint over cell classes where they overlap;
        default False (cells win).
    unboxed : int
        Label of foreground pixels outside every box (default IGNORE_INDEX;
        0 to call them background).
    """

    channel: Literal["od", "saturation", "gray"] = "od"
    otsu_context: float = 0.25
    closing_radius: int = 3
    fill_holes: bool = True
    min_object_px: int = 64
    box_margin: float = 0.0
    overlap_label: Literal["both", "unhealthy", "healthy"] = "both"
    rubbish_wins: bool = False
    unboxed: int = IGNORE_INDEX

    def __post_init__(self) -> None:
        if self.channel not in ("od", "saturation", "gray"):
            raise ValueError(f"channel={self.channel!r}; use 'od', 'saturation' or 'gray'")
        if self.overlap_label not in ("both", "unhealthy", "healthy"):
            raise ValueError(f"overlap_label={self.overlap_label!r}; use both/unhealthy/healthy")
        if not (0 <= self.unboxed < PAPER.num_classes or self.unboxed == IGNORE_INDEX):
            raise ValueError(f"unboxed={self.unboxed} is not a paper-scheme id or IGNORE_INDEX")
        if self.otsu_context < 0 or self.closing_radius < 0 or self.min_object_px < 0:
            raise ValueError("otsu_context, closing_radius and min_object_px must be >= 0")


def stain_channel(image: np.ndarray, channel: str = "od") -> np.ndarray:
    """Channel in which cells are bright: (H, W, 3) uint8 RGB -> (H, W) uint8."""
    if channel == "od":
        lut = -np.log((np.arange(256, dtype=np.float32) + 1) / 256)
        od = lut[image].mean(axis=2)
        return np.clip(od / np.log(256) * 255 * 2, 0, 255).astype(np.uint8)
    if channel == "saturation":
        return cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1]
    if channel == "gray":
        return 255 - cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    raise ValueError(f"channel={channel!r}; use 'od', 'saturation' or 'gray'")


def box_foreground(
    image: np.ndarray, boxes: Sequence[Box], config: PaperMaskConfig | None = None
) -> np.ndarray:
    """Foreground found by per-box Otsu thresholding (step 1 without a cell mask).

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    boxes : boxes in pixels

    Returns
    -------
    (H, W) bool
        True on cell pixels inside some box; False elsewhere.
    """
    cfg = config or PaperMaskConfig()
    h, w = image.shape[:2]
    chan = stain_channel(image, cfg.channel)
    fg = np.zeros((h, w), dtype=bool)
    kernel = (
        cv2.getStructuringElement(
            cv2.MORPH_ELLIPSE, (2 * cfg.closing_radius + 1, 2 * cfg.closing_radius + 1)
        )
        if cfg.closing_radius > 0
        else None
    )
    for box in boxes:
        rows, cols = box.pixel_slices((h, w))
        if rows.stop <= rows.start or cols.stop <= cols.start:
            continue
        ctx = max(box.width, box.height) * cfg.otsu_context
        crow, ccol = box.pixel_slices((h, w), margin=ctx)
        thr, _ = cv2.threshold(chan[crow, ccol], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        local = (chan[rows, cols] > thr).astype(np.uint8)
        if kernel is not None:
            local = cv2.morphologyEx(local, cv2.MORPH_CLOSE, kernel)
        local = local.astype(bool)
        if cfg.fill_holes:
            local = ndimage.binary_fill_holes(local)
        if cfg.min_object_px > 0:
            lab, n = ndimage.label(local)
            if n:
                sizes = np.bincount(lab.ravel())
                keep = sizes >= cfg.min_object_px
                keep[0] = False
                local = keep[lab]
        fg[rows, cols] |= local
    return fg


def _cover(shape: tuple[int, int], boxes: Sequence[Box], margin: float) -> np.ndarray:
    cover = np.zeros(shape, dtype=bool)
    for b in boxes:
        rows, cols = b.pixel_slices(shape, margin=margin)
        cover[rows, cols] = True
    return cover


def build_paper_mask(
    image: np.ndarray | None,
    boxes: Sequence[Box],
    cell_mask: np.ndarray | None = None,
    config: PaperMaskConfig | None = None,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Reconstruct a four-class ``paper`` mask from boxes (see the module docstring).

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB, or None
        The slice; needed only when ``cell_mask`` is None.
    boxes : sequence of :class:`~papseg_utils.data.apacc.Box`
        Boxes in pixels (from :func:`~papseg_utils.data.apacc.parse_yolo_labels`).
    cell_mask : (H, W) array, or None
        Binary cell mask (APACS23-style; any value > 0 is a cell).
    config : PaperMaskConfig
        The recipe's parameters.
    shape : (H, W), optional
        Mask shape when neither ``image`` nor ``cell_mask`` gives it.

    Returns
    -------
    (H, W) uint8
        Ids of the ``paper`` scheme (0 background, 1 healthy, 2 unhealthy,
        3 rubbish, 4 both) and ``config.unboxed`` for foreground outside boxes.
    """
    cfg = config or PaperMaskConfig()
    if cell_mask is not None:
        fg = np.asarray(cell_mask) > 0
        if fg.ndim != 2:
            raise ValueError(f"cell_mask must be (H, W), got shape {fg.shape}")
        if image is not None and image.shape[:2] != fg.shape:
            raise ValueError(f"cell_mask {fg.shape} and image {image.shape[:2]} differ in size")
    elif image is not None:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        fg = box_foreground(image, boxes, cfg)
    else:
        raise ValueError("build_paper_mask needs a cell_mask or an image to find the cells")
    hw = fg.shape if shape is None else tuple(shape)
    ids = PAPER.ids
    by_class: dict[str, list[Box]] = {c: [] for c in ("healthy", "unhealthy", "rubbish", "both")}
    for b in boxes:
        by_class[b.paper_class].append(b)
    cover = {c: _cover(hw, bs, cfg.box_margin) for c, bs in by_class.items()}

    mask = np.zeros(hw, dtype=np.uint8)
    if not cfg.rubbish_wins:
        mask[fg & cover["rubbish"]] = ids["rubbish"]
    mask[fg & cover["healthy"]] = ids["healthy"]
    mask[fg & cover["unhealthy"]] = ids["unhealthy"]
    mask[fg & cover["healthy"] & cover["unhealthy"]] = ids[cfg.overlap_label]
    mask[fg & cover["both"]] = ids["both"]
    if cfg.rubbish_wins:
        mask[fg & cover["rubbish"]] = ids["rubbish"]
    any_box = cover["healthy"] | cover["unhealthy"] | cover["rubbish"] | cover["both"]
    mask[fg & ~any_box] = cfg.unboxed
    return mask


def load_apacc_masks(
    root: str | Path,
    scheme: str | None = "paper",
    limit: int | None = None,
    image_size: int | None = 512,
    cell_mask_dir: str | Path | None = None,
    config: PaperMaskConfig | None = None,
) -> list[Sample]:
    """APACC slices as Samples with reconstructed ``paper`` masks (see module warning).

    Parameters
    ----------
    root : APACC folder (``images/``, ``labels/``).
    limit : decode at most this many slices (sorted by stem); None for all.
    image_size : resize image (INTER_AREA) and mask (nearest) to this square
        size after building the mask at full size; None keeps 2000x2000.
    cell_mask_dir : optional folder of binary cell masks ``<stem>.png`` (any
        value > 0 is a cell); slices without one fall back to thresholding.
    config : the recipe's parameters.
    """
    from papseg_utils.data.apacc import index_apacc
    from papseg_utils.data.apacs23 import read_binary_mask

    if scheme not in (None, "paper"):
        raise ValueError(f"APACC masks are built in the 'paper' scheme, not {scheme!r}")
    index = index_apacc(root)
    n = len(index) if limit is None else min(limit, len(index))
    samples = []
    for i in range(n):
        image, boxes = index.load(i)
        item = index[i]
        cell = None
        if cell_mask_dir is not None:
            p = Path(cell_mask_dir) / f"{Path(item.image_path).stem}.png"
            if p.is_file():
                cell = read_binary_mask(p, shape=image.shape[:2])
        mask = build_paper_mask(image, boxes, cell_mask=cell, config=config)
        if image_size is not None:
            image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, (image_size, image_size), interpolation=cv2.INTER_NEAREST)
        samples.append(
            Sample(
                image=image,
                mask=mask,
                name=item.name,
                group=item.group,
                path=item.image_path,
                meta={
                    "boxes": len(boxes),
                    "mask_source": "cell_mask" if cell is not None else "otsu",
                },
            )
        )
    return samples
