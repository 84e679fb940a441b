"""Scores over a data loader: the validation pass of the trainer.

The counts and overlap formulas are those of :mod:`papseg_utils.metrics`; they are
accumulated on the device so that several processes can sum them
(:func:`papseg_utils.train.validation.validation_row`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from papseg_utils.data.batches import to_device, unpack
from papseg_utils.device import autocast_dtype
from papseg_utils.inference import logits_of
from papseg_utils.metrics.confusion import confusion_matrix


@torch.no_grad()
def score_loader(
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
    """Confusion matrix and mean loss over ``loader`` (this process only): validation in training.

    ``loader`` yields dict batches (``image`` (N, 3, H, W) float, ``mask`` (N, H, W) int64)
    or ``(images, masks)`` tuples; pixels equal to ``ignore_index`` are not counted.

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
