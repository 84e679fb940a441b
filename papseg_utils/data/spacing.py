"""Pixel size as data: resampling to a target spacing, and fixed-size training patches.

A cell's size is the cytologist's first cue: a superficial cell's nucleus is about 6 um
across, a carcinoma-in-situ nucleus twice that. Letterboxing every image to one side
(:mod:`papseg_utils.data.resize`) rescales each cell by the size of its image, so that cue is
lost. The scale-true recipe instead works as nnU-Net does (one target spacing, patches,
sliding-window inference) and as Cellpose does (a common physical scale):

* every dataset knows its pixel size in um/px (:func:`dataset_pixel_size`; Herlev 0.201);
* images and masks are resampled to the recipe's target spacing
  (:func:`resample_image`, :func:`resample_mask`), by the factor
  ``pixel_size_um / target_spacing_um``, so 1 px means the same length for every image;
* training draws fixed-size patches at that spacing (:func:`sample_patch`), padded with the
  ignore index where an image is smaller, with a share of them centred on foreground so
  that small nuclei are seen (nnU-Net's foreground oversampling);
* inference runs the whole image at the target spacing (a sliding window beyond the patch
  size) and resamples the probabilities back to the native grid before the argmax
  (:func:`resample_probs`), so metrics stay at native resolution.

Everything here is numpy/OpenCV on (H, W, 3) uint8 images, (H, W) uint8 masks and
(C, H, W) float32 probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from papseg_utils.labels import IGNORE_INDEX

#: Pixel sizes outside this range (um/px) are refused as typing errors: 0.01 um is below
#: any light microscope's resolution, 10 um/px would put a whole cell in a few pixels.
PIXEL_SIZE_RANGE: tuple[float, float] = (0.01, 10.0)
#: The image padding colour (neutral gray, about 0 after normalisation), as in the letterbox.
PAD_COLOUR: tuple[int, int, int] = (128, 128, 128)


class PixelSizeError(ValueError):
    """A pixel size or spacing that cannot be right (<= 0, NaN, or outside PIXEL_SIZE_RANGE)."""


def check_pixel_size(value, what: str = "--pixel-size") -> float:
    """``value`` as a float um/px, or :class:`PixelSizeError` naming ``what`` and the fix.

    >>> check_pixel_size("0.201")
    0.201
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise PixelSizeError(
            f"{what} {value!r} is not a number; give the pixel size in um/px (Herlev: 0.201)"
        ) from None
    lo, hi = PIXEL_SIZE_RANGE
    if not math.isfinite(v) or v <= 0:
        raise PixelSizeError(f"{what} {value!r} must be a positive number of um/px (Herlev: 0.201)")
    if not lo <= v <= hi:
        raise PixelSizeError(
            f"{what} {v:g} um/px is outside {lo:g}-{hi:g} um/px; it is the size of one pixel "
            "in micrometres (a 40x objective gives about 0.1-0.3), not a magnification or a "
            "size in nm"
        )
    return v


def scale_factor(pixel_size_um: float, target_spacing_um: float) -> float:
    """How much an image is enlarged to reach the target spacing: ``pixel_size / target``.

    >>> scale_factor(0.4, 0.2)
    2.0
    """
    return check_pixel_size(pixel_size_um, "pixel size") / check_pixel_size(
        target_spacing_um, "target spacing"
    )


def resampled_shape(shape: Sequence[int], factor: float) -> tuple[int, int]:
    """(H, W) of an image of ``shape`` (H, W, ...) scaled by ``factor`` (at least 1 px each)."""
    h, w = int(shape[0]), int(shape[1])
    if abs(factor - 1.0) < 1e-9:
        return h, w
    return max(1, round(h * factor)), max(1, round(w * factor))


def resample_image(image: np.ndarray, factor: float) -> np.ndarray:
    """(H, W, 3) uint8 scaled by ``factor``: area averaging to shrink, bilinear to enlarge."""
    h, w = resampled_shape(image.shape, factor)
    if (h, w) == image.shape[:2]:
        return image
    interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=interp)


def resample_mask(mask: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """(H, W) uint8 labels resampled to ``shape`` (h, w) as one-hot maps, then the argmax.

    Each label value (the ignore index included) is resized as a float indicator (area
    averaging to shrink, bilinear to enlarge) and every output pixel takes the label of the
    largest share. Unlike nearest neighbour this keeps thin structures where they cover most
    of a new pixel and does not shift outlines by half a pixel. No new label values appear.
    """
    h, w = int(shape[0]), int(shape[1])
    if (h, w) == mask.shape:
        return mask
    values = np.unique(mask)
    if len(values) == 1:
        return np.full((h, w), values[0], dtype=mask.dtype)
    interp = cv2.INTER_AREA if h * w < mask.size else cv2.INTER_LINEAR
    best = np.full((h, w), -1.0, dtype=np.float32)
    out = np.zeros((h, w), dtype=mask.dtype)
    for v in values:
        share = cv2.resize((mask == v).astype(np.float32), (w, h), interpolation=interp)
        take = share > best
        out[take], best[take] = v, share[take]
    return out


def resample_probs(probs: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """(C, h, w) probabilities resized bilinearly to ``shape`` (H, W); sums stay 1 over C."""
    h, w = int(shape[0]), int(shape[1])
    probs = np.asarray(probs, dtype=np.float32)
    if probs.shape[-2:] == (h, w):
        return probs
    hwc = np.ascontiguousarray(probs.transpose(1, 2, 0))
    interp = cv2.INTER_AREA if h * w < probs.shape[1] * probs.shape[2] else cv2.INTER_LINEAR
    channels = [cv2.resize(hwc[..., i], (w, h), interpolation=interp) for i in range(hwc.shape[2])]
    out = np.stack(channels).astype(np.float32)
    return out / np.clip(out.sum(0, keepdims=True), 1e-12, None)


def to_target_spacing(
    image: np.ndarray,
    mask: np.ndarray | None,
    pixel_size_um: float,
    target_spacing_um: float,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Image (H, W, 3) uint8 and mask (H, W) uint8 (or None) resampled to the target spacing."""
    factor = scale_factor(pixel_size_um, target_spacing_um)
    out = resample_image(image, factor)
    return out, None if mask is None else resample_mask(mask, out.shape[:2])


def _pad(image: np.ndarray, mask: np.ndarray, size: int, top: int, left: int):
    """Place image/mask at (top, left) on canvases of at least ``size`` (gray / IGNORE_INDEX)."""
    h, w = mask.shape
    ph, pw = max(h + top, size), max(w + left, size)
    img = np.empty((ph, pw, 3), dtype=np.uint8)
    img[...] = np.asarray(PAD_COLOUR, dtype=np.uint8)
    msk = np.full((ph, pw), IGNORE_INDEX, dtype=np.uint8)
    img[top : top + h, left : left + w] = image
    msk[top : top + h, left : left + w] = mask
    return img, msk


def sample_patch(
    image: np.ndarray,
    mask: np.ndarray,
    size: int,
    rng: np.random.Generator | None = None,
    foreground: Sequence[int] = (),
    foreground_prob: float = 0.33,
) -> tuple[np.ndarray, np.ndarray]:
    """A ``size`` x ``size`` patch of an image at the target spacing, and its mask.

    Parameters
    ----------
    image : (H, W, 3) uint8; mask : (H, W) uint8 class ids (IGNORE_INDEX allowed).
    size : the patch side in px.
    rng : None gives the deterministic central patch (validation); a generator gives a
        random one (training): an image smaller than the patch lands at a random place on
        the canvas, a larger one is cropped at a random place.
    foreground : class ids to oversample (e.g. the nucleus id). With probability
        ``foreground_prob`` the patch is centred (up to the image border) on a random
        pixel of one of these classes, as nnU-Net oversamples foreground patches.

    Returns
    -------
    (size, size, 3) uint8 image (padding gray) and (size, size) uint8 mask (padding
    IGNORE_INDEX). No pixel is rescaled.
    """
    h, w = mask.shape
    if size < 1:
        raise ValueError(f"sample_patch: size={size} must be a positive number of px")
    if rng is None:  # centred
        top, left = max(0, (size - h) // 2), max(0, (size - w) // 2)
        img, msk = _pad(image, mask, size, top, left)
        r0 = (img.shape[0] - size) // 2
        c0 = (img.shape[1] - size) // 2
        return img[r0 : r0 + size, c0 : c0 + size], msk[r0 : r0 + size, c0 : c0 + size]
    top = int(rng.integers(0, size - h + 1)) if h < size else 0
    left = int(rng.integers(0, size - w + 1)) if w < size else 0
    img, msk = _pad(image, mask, size, top, left)
    ph, pw = msk.shape
    r0 = int(rng.integers(0, ph - size + 1))
    c0 = int(rng.integers(0, pw - size + 1))
    if foreground and (ph > size or pw > size) and rng.random() < foreground_prob:
        rows, cols = np.nonzero(np.isin(msk, np.asarray(foreground, dtype=msk.dtype)))
        if len(rows):
            k = int(rng.integers(0, len(rows)))
            r0 = int(np.clip(rows[k] - size // 2, 0, ph - size))
            c0 = int(np.clip(cols[k] - size // 2, 0, pw - size))
    return img[r0 : r0 + size, c0 : c0 + size], msk[r0 : r0 + size, c0 : c0 + size]
