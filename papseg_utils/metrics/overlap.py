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


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def dice_from_counts(tp, fp, fn) -> np.ndarray:
    """Dice ``2 TP / (2 TP + FP + FN)`` of float64 counts (any broadcastable shape); NaN for 0/0."""
    return _ratio(2 * tp, 2 * tp + fp + fn)


def iou_from_counts(tp, fp, fn) -> np.ndarray:
    """IoU (Jaccard) ``TP / (TP + FP + FN)`` of float64 counts; NaN for 0/0."""
    return _ratio(tp, tp + fp + fn)


def precision_from_counts(tp, fp, fn) -> np.ndarray:
    """Precision ``TP / (TP + FP)`` of float64 counts; NaN when nothing is predicted."""
    return _ratio(tp, tp + fp)


def recall_from_counts(tp, fp, fn) -> np.ndarray:
    """Recall ``TP / (TP + FN)`` of float64 counts; NaN when the truth is empty."""
    return _ratio(tp, tp + fn)


def overlap_from_counts(tp, fp, fn) -> dict[str, np.ndarray]:
    """Every overlap metric of the catalogue (Dice, IoU, precision, recall) from pixel counts.

    ``tp``, ``fp``, ``fn`` have any broadcastable shape. A zero denominator gives NaN (e.g.
    Dice when the class is absent from both truth and prediction);
    :func:`papseg_utils.metrics.score_images` then applies the empty-class policy. Returns
    ``{name: float64 array of the counts' shape}`` in catalogue order
    (:data:`papseg_utils.metrics.catalog.CATALOGUE`, kind ``"overlap"``).
    """
    from papseg_utils.metrics.catalog import entries

    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    return {m.name: m.compute(tp, fp, fn) for m in entries("overlap")}


def _binary_counts(pred: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    pred = np.asarray(pred, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    return (
        np.count_nonzero(pred & truth),
        np.count_nonzero(pred & ~truth),
        np.count_nonzero(~pred & truth),
    )


def dice_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice of two binary (H, W) masks; NaN when both are empty."""
    return float(dice_from_counts(*_binary_counts(pred, truth)))


def iou_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """IoU (Jaccard) of two binary (H, W) masks; NaN when both are empty."""
    return float(iou_from_counts(*_binary_counts(pred, truth)))
