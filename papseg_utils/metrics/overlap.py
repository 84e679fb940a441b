"""Overlap metrics (Dice, IoU, precision, recall) from confusion counts.

Reductions are named, never implied:

``"image"``
    the metric per image, then the mean over images (NaN cases skipped and
    counted). What most papers mean by "mean Dice".
``"micro"``
    counts summed over all images first, then one metric per class: large
    objects weigh more.
``"macro"``
    applied on top of either, the mean over classes (background excluded by
    default).
"""

from __future__ import annotations

import numpy as np

OVERLAP_METRICS: tuple[str, ...] = ("dice", "iou", "precision", "recall")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def overlap_from_counts(tp, fp, fn) -> dict[str, np.ndarray]:
    """Dice, IoU, precision and recall from counts (any broadcastable shape).

    A zero denominator gives NaN (e.g. Dice when the class is absent from both
    truth and prediction); :func:`papseg_utils.metrics.score_images` then applies
    the empty-class policy. Returns float64 arrays of the counts' shape.
    """
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    return {
        "dice": _ratio(2 * tp, 2 * tp + fp + fn),
        "iou": _ratio(tp, tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
    }


def dice_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two binary (H, W) masks; NaN when both are empty."""
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    tp = np.count_nonzero(pred & truth)
    return float(
        overlap_from_counts(tp, np.count_nonzero(pred & ~truth), np.count_nonzero(~pred & truth))[
            "dice"
        ]
    )


def iou_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """IoU (Jaccard) of two binary (H, W) masks; NaN when both are empty."""
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    tp = np.count_nonzero(pred & truth)
    return float(
        overlap_from_counts(tp, np.count_nonzero(pred & ~truth), np.count_nonzero(~pred & truth))[
            "iou"
        ]
    )
