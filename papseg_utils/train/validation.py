"""Validation during training: the ``val_*`` columns of the training history.

The scoring itself is :func:`papseg_utils.evaluate.loader.score_loader` (a confusion matrix
over the validation set, with the counts and overlap formulas of :mod:`papseg_utils.metrics`);
here its counts are summed across processes and turned into Dice and IoU per class.
"""

from __future__ import annotations

import math

import numpy as np

from papseg_utils.labels import LabelScheme
from papseg_utils.metrics.confusion import dice_from_confusion, iou_from_confusion
from papseg_utils.train.distributed import all_reduce_sum


def empty_row(scheme: LabelScheme) -> dict:
    """The ``val_*`` columns of an epoch without validation (all NaN)."""
    out = {"val_loss": math.nan}
    out.update({f"val_dice_{c}": math.nan for c in scheme.classes})
    out.update(val_mean_dice=math.nan, val_mean_iou=math.nan)
    return out


def validation_row(result: dict, scheme: LabelScheme, dist_ctx) -> dict:
    """``val_loss``, ``val_dice_<class>``, ``val_mean_dice`` and ``val_mean_iou`` (foreground).

    ``result`` is :func:`~papseg_utils.evaluate.loader.score_loader`'s output of this process; the counts are summed over
    all processes first.
    """
    cm = all_reduce_sum(result["confusion"], dist_ctx)
    loss_sum = all_reduce_sum(result["loss_sum"], dist_ctx)
    n = all_reduce_sum(result["num_images"], dist_ctx)
    dice, iou = dice_from_confusion(cm), iou_from_confusion(cm)
    out = {"val_loss": float(loss_sum / n.clamp_min(1))}
    out.update({f"val_dice_{c}": float(d) for c, d in zip(scheme.classes, dice, strict=True)})
    with np.errstate(all="ignore"):
        fg_d, fg_i = dice[1:], iou[1:]
        out["val_mean_dice"] = float(np.nanmean(fg_d)) if np.isfinite(fg_d).any() else math.nan
        out["val_mean_iou"] = float(np.nanmean(fg_i)) if np.isfinite(fg_i).any() else math.nan
    return out
