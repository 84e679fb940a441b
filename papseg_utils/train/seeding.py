"""Reproducibility: seeding every RNG, PyTorch's deterministic mode, per-epoch seeds."""

from __future__ import annotations

import os
import random
from collections.abc import Callable

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and all GPUs)."""
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - libraries still use the global RNG
    torch.manual_seed(seed)


def set_deterministic(enabled: bool = True, warn_only: bool = True) -> Callable[[], None]:
    """Switch PyTorch's deterministic mode on; return a function that restores the previous mode.

    Sets ``torch.use_deterministic_algorithms(True, warn_only=warn_only)``
    (ops without a deterministic kernel warn instead of failing when
    ``warn_only``), ``cudnn.deterministic = True``, ``cudnn.benchmark = False``
    and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (needed by cuBLAS, if not set).
    Slower on GPUs; on the CPU the default kernels are already deterministic.
    """
    prev = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=warn_only)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False

    def restore() -> None:
        torch.use_deterministic_algorithms(prev[0], warn_only=prev[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev[2], prev[3]

    return restore


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed of one epoch's batch order and augmentation on process ``rank``."""
    return (int(seed) * 1_000_003 + int(epoch) * 10_007 + int(rank) * 101) % 2**31
