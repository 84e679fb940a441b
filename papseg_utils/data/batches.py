"""Batches as the trainer and the scorers read them: unpack a batch, move it to the device."""

from __future__ import annotations

import torch


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
