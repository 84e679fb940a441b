"""Confusion counts: the one place where predictions meet the truth.

Every overlap metric in :mod:`papseg_utils.metrics` is computed from these
counts first and reduced second (per image, micro or macro), so the averaging
is always explicit. Pixels whose truth is ``ignore_index`` are dropped before
counting: they are neither foreground nor background for any class.
"""

from __future__ import annotations

import numpy as np

from papseg_utils.labels import IGNORE_INDEX


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _confusion_torch(preds, masks, num_classes: int, ignore_index: int):
    """:func:`confusion_matrix` for torch tensors, on their device (no copy to the CPU)."""
    import torch

    if preds.shape != masks.shape:
        raise ValueError(
            f"preds {tuple(preds.shape)} and masks {tuple(masks.shape)} differ in shape"
        )
    keep = masks != ignore_index
    t, p = masks[keep].long(), preds[keep].long()
    cm = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    if cm.numel() != num_classes * num_classes:
        raise ValueError(
            f"preds or masks hold class ids outside 0..{num_classes - 1}; check num_classes / the "
            "label scheme"
        )
    return cm.reshape(num_classes, num_classes)


def _check_pair(preds: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    preds = np.asarray(preds)
    masks = np.asarray(masks)
    if preds.shape != masks.shape:
        raise ValueError(
            f"preds {preds.shape} and masks {masks.shape} differ in shape; "
            "map predictions back to the mask size (e.g. unletterbox) before scoring"
        )
    return preds, masks


def confusion_matrix(
    preds: np.ndarray, masks: np.ndarray, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """Pixel confusion matrix of one image or a stack of images.

    Parameters
    ----------
    preds : (H, W) or (N, H, W) integer
        Predicted class ids in ``0..num_classes-1``.
    masks : same shape, integer
        True class ids; pixels equal to ``ignore_index`` are skipped.
    num_classes : int
    ignore_index : int

    Returns
    -------
    (num_classes, num_classes) int64
        ``cm[t, p]`` = number of pixels with truth ``t`` predicted as ``p``
        (rows are the truth). NumPy in, NumPy out; torch tensors in, an int64 tensor on their
        device out (what the training loop accumulates without leaving the GPU).
    """
    if _is_torch(preds) and _is_torch(masks):
        return _confusion_torch(preds, masks, num_classes, ignore_index)
    preds, masks = _check_pair(preds, masks)
    keep = masks != ignore_index
    t = masks[keep].astype(np.int64)
    p = preds[keep].astype(np.int64)
    for name, arr in (("preds", p), ("masks", t)):
        if arr.size and (arr.min() < 0 or arr.max() >= num_classes):
            raise ValueError(
                f"{name} holds class ids outside 0..{num_classes - 1} "
                f"(found {int(arr.min())}..{int(arr.max())}); check num_classes / the label scheme"
            )
    cm = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return cm.reshape(num_classes, num_classes).astype(np.int64)


def class_counts(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class one-vs-rest counts from a confusion matrix.

    Parameters
    ----------
    cm : (C, C) integer, rows = truth (as returned by :func:`confusion_matrix`),
        or (N, C, C) for N images.

    Returns
    -------
    dict with ``tp``, ``fp``, ``fn``, ``tn``: each (C,) or (N, C) int64.
    """
    cm = np.asarray(cm, dtype=np.int64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    fp = cm.sum(axis=-2) - tp  # predicted as c, truth something else
    fn = cm.sum(axis=-1) - tp  # truth c, predicted something else
    total = cm.sum(axis=(-2, -1))[..., None]
    tn = total - tp - fp - fn
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def per_image_counts(
    preds: np.ndarray, masks: np.ndarray, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> np.ndarray:
    """Stack of confusion matrices, one per image.

    ``preds`` and ``masks`` are sequences of (H_i, W_i) integer arrays (sizes may
    differ between images). Returns (N, C, C) int64.
    """
    if len(preds) != len(masks):
        raise ValueError(f"{len(preds)} predictions but {len(masks)} masks")
    return (
        np.stack(
            [
                confusion_matrix(p, m, num_classes, ignore_index)
                for p, m in zip(preds, masks, strict=True)
            ]
        )
        if len(preds)
        else np.zeros((0, num_classes, num_classes), np.int64)
    )


def _as_numpy_counts(cm) -> np.ndarray:
    if _is_torch(cm):
        cm = cm.detach().cpu().numpy()
    return np.asarray(cm, dtype=np.float64)


def dice_from_confusion(cm) -> np.ndarray:
    """Per-class Dice ``2TP / (2TP + FP + FN)`` of a (C, C) confusion matrix (NumPy or torch).

    Returns (C,) float64; NaN for a class absent from both truth and prediction.
    """
    from papseg_utils.metrics.overlap import overlap_from_counts

    return overlap_from_counts(**_tp_fp_fn(_as_numpy_counts(cm)))["dice"]


def iou_from_confusion(cm) -> np.ndarray:
    """Per-class IoU ``TP / (TP + FP + FN)`` of a (C, C) confusion matrix; (C,) float64, NaN if absent."""
    from papseg_utils.metrics.overlap import overlap_from_counts

    return overlap_from_counts(**_tp_fp_fn(_as_numpy_counts(cm)))["iou"]


def _tp_fp_fn(cm: np.ndarray) -> dict[str, np.ndarray]:
    counts = class_counts(cm)
    return {"tp": counts["tp"], "fp": counts["fp"], "fn": counts["fn"]}
