"""Validation during training: a confusion matrix over the validation set, then Dice and IoU.

The counts and the overlap formulas are those of :mod:`papseg_utils.metrics` (one set for the
whole package); here they are accumulated on the device, summed across processes and turned
into the ``val_*`` columns of the training history.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from papseg_utils.device import autocast_dtype
from papseg_utils.inference import logits_of
from papseg_utils.labels import LabelScheme
from papseg_utils.metrics.confusion import confusion_matrix, dice_from_confusion, iou_from_confusion
from papseg_utils.train.distributed import all_reduce_sum


def unpack(batch) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, masks)`` of a dict batch (``image``, ``mask``) or a tuple batch."""
    if isinstance(batch, dict):
        return batch["image"], batch["mask"]
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TypeError(
        "a batch must be a dict with 'image' and 'mask' or a tuple (images, masks); got "
        f"{type(batch).__name__}"
    )


def to_device(images, masks, device, channels_last: bool = False):
    """Images as float32 (channels-last if asked) and masks as int64, on ``device``."""
    images = images.to(device, non_blocking=True).float()
    masks = masks.to(device, non_blocking=True).long()
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, masks


@torch.no_grad()
def evaluate_loader(
    model: nn.Module,
    loader: Iterable,
    num_classes: int,
    loss_fn: nn.Module | None = None,
    ignore_index: int = 255,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    max_batches: int | None = None,
) -> dict:
    """Validation pass: confusion matrix and mean loss over ``loader`` (this process only).

    Returns
    -------
    dict
        ``confusion`` (C, C) int64 tensor, ``loss_sum`` and ``num_images``
        (float64 tensors, so they can be summed across processes).
    """
    device = torch.device(device)
    dtype = autocast_dtype(precision)
    was_training = model.training
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    n = torch.zeros((), dtype=torch.float64, device=device)
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        images, masks = to_device(*unpack(batch), device, channels_last)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = logits_of(model(images))
        logits = logits.float()
        if loss_fn is not None:
            loss_sum += loss_fn(logits, masks).double() * images.shape[0]
        n += images.shape[0]
        cm += confusion_matrix(logits.argmax(1), masks, num_classes, ignore_index)
    model.train(was_training)
    return {"confusion": cm, "loss_sum": loss_sum, "num_images": n}


def empty_row(scheme: LabelScheme) -> dict:
    """The ``val_*`` columns of an epoch without validation (all NaN)."""
    out = {"val_loss": math.nan}
    out.update({f"val_dice_{c}": math.nan for c in scheme.classes})
    out.update(val_mean_dice=math.nan, val_mean_iou=math.nan)
    return out


def validation_row(result: dict, scheme: LabelScheme, dist_ctx) -> dict:
    """``val_loss``, ``val_dice_<class>``, ``val_mean_dice`` and ``val_mean_iou`` (foreground).

    ``result`` is :func:`evaluate_loader`'s output of this process; the counts are summed over
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
