"""Undoing the datasets' normalisation, to show network inputs as images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def to_uint8(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> list[np.ndarray]:
    """Undo ``(image / 255 - mean) / std``: (N, 3, H, W) float32 -> list of (H, W, 3) uint8.

    ``mean`` and ``std`` are the 3 per-channel values on the 0-1 scale that normalised the
    images (a model's ``papseg_spec.mean``/``std``). Values are clipped to [0, 1] and scaled
    by 255, truncating towards zero; ``images`` must be on the CPU.
    """
    mean, std = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)
    return [((x * std + mean).clamp(0, 1) * 255).byte().permute(1, 2, 0).numpy() for x in images]
