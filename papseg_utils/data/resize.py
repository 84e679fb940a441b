"""Aspect-preserving resize with padding ("letterbox") and its inverse.

Herlev images range from 40 to 768 px wide; networks want a fixed square.
:func:`letterbox` scales the long side to ``size`` and pads the rest; the
returned :class:`Geometry` lets :func:`unletterbox` map predictions (or
logits) back to the original pixel grid. **Metrics are computed at the
original size**, after :func:`unletterbox`, so that results do not depend on
the network's input resolution.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from papseg_utils.labels import IGNORE_INDEX


@dataclass(frozen=True)
class Geometry:
    """How an image was letterboxed: original (height, width), scaled size and padding."""

    orig_h: int
    orig_w: int
    new_h: int
    new_w: int
    top: int
    left: int
    size: int

    def to_dict(self) -> dict:
        """Plain dict (JSON-friendly)."""
        return asdict(self)


def letterbox(
    image: np.ndarray,
    mask: np.ndarray | None,
    size: int,
    pad_value: int | tuple[int, int, int] = (128, 128, 128),
    mask_pad: int = IGNORE_INDEX,
) -> tuple[np.ndarray, np.ndarray | None, Geometry]:
    """Scale the long side to ``size`` keeping the aspect ratio, then pad to ``size`` x ``size``.

    Parameters
    ----------
    image : np.ndarray
        (H, W, 3) uint8.
    mask : np.ndarray or None
        (H, W) uint8 labels; resized with nearest neighbour.
    size : int
        Output side in px.
    pad_value : int or (r, g, b)
        Image padding (neutral gray by default, which normalises to about 0).
    mask_pad : int
        Mask padding; ``IGNORE_INDEX`` so padding never counts in losses or metrics.

    Returns
    -------
    image : (size, size, 3) uint8, mask : (size, size) uint8 or None, geometry : Geometry
    """
    if image.ndim != 3:
        raise ValueError(f"letterbox: image must be (H, W, 3), got shape {image.shape}")
    if size < 1:
        raise ValueError(f"letterbox: size={size} must be a positive number of px")
    h, w = image.shape[:2]
    if mask is not None and mask.shape != (h, w):
        raise ValueError(f"letterbox: mask shape {mask.shape} differs from image {(h, w)}")
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    img = cv2.resize(image, (nw, nh), interpolation=interp) if (nh, nw) != (h, w) else image
    top, left = (size - nh) // 2, (size - nw) // 2
    fill = (pad_value,) * 3 if isinstance(pad_value, int) else tuple(pad_value)
    out = np.empty((size, size, 3), dtype=np.uint8)
    out[...] = np.asarray(fill, dtype=np.uint8)
    out[top : top + nh, left : left + nw] = img
    out_mask = None
    if mask is not None:
        m = (
            cv2.resize(mask, (nw, nh), interpolation=cv2.INTER_NEAREST_EXACT)
            if (nh, nw) != (h, w)
            else mask
        )
        out_mask = np.full((size, size), mask_pad, dtype=np.uint8)
        out_mask[top : top + nh, left : left + nw] = m
    return out, out_mask, Geometry(h, w, nh, nw, top, left, size)


def unletterbox(pred: np.ndarray, geometry: Geometry | dict) -> np.ndarray:
    """Map a letterboxed prediction back to the original image grid.

    Parameters
    ----------
    pred : np.ndarray
        (size, size) integer labels (resized with nearest neighbour), or
        (C, size, size) float logits/probabilities (resized bilinearly; take
        the argmax afterwards), or a torch tensor of either shape.
    geometry : Geometry or dict
        As returned by :func:`letterbox`.

    Returns
    -------
    np.ndarray
        (orig_h, orig_w) labels or (C, orig_h, orig_w) float32 logits.
    """
    g = Geometry(**geometry) if isinstance(geometry, dict) else geometry
    if hasattr(pred, "detach"):
        pred = pred.detach().cpu().numpy()
    pred = np.asarray(pred)
    if pred.shape[-2:] != (g.size, g.size):
        raise ValueError(
            f"unletterbox: prediction shape {pred.shape} does not end in {(g.size, g.size)}"
        )
    crop = pred[..., g.top : g.top + g.new_h, g.left : g.left + g.new_w]
    if crop.ndim == 2:
        return cv2.resize(
            np.ascontiguousarray(crop).astype(np.int32)
            if crop.dtype != np.uint8
            else np.ascontiguousarray(crop),
            (g.orig_w, g.orig_h),
            interpolation=cv2.INTER_NEAREST_EXACT,
        ).astype(pred.dtype)
    if crop.ndim == 3:
        chw = np.ascontiguousarray(crop.transpose(1, 2, 0), dtype=np.float32)
        out = cv2.resize(chw, (g.orig_w, g.orig_h), interpolation=cv2.INTER_LINEAR)
        if out.ndim == 2:
            out = out[..., None]
        return out.transpose(2, 0, 1)
    raise ValueError(f"unletterbox: expected (H, W) labels or (C, H, W) logits, got {pred.shape}")
