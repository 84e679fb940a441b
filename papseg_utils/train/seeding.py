"""Reproducibility: seeding every RNG, PyTorch's deterministic mode, per-epoch seeds, and
DataLoader workers that each draw their own augmentations."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable

import numpy as np
import torch
import torch.utils.data

logger = logging.getLogger(__name__)


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


def reseed_dataset(dataset: object, seed: int) -> bool:
    """Reseed the augmentation of ``dataset``; True if it had one to reseed.

    The contract is explicit: a dataset with a ``reseed(seed)`` method (as
    :class:`~papseg_utils.data.dataset.SegmentationDataset` has) is asked to reseed itself;
    otherwise its own ``transform`` is reseeded when it is an albumentations pipeline. Wrappers
    such as ``torch.utils.data.Subset`` are not searched: give the wrapper a ``reseed`` method
    that forwards to the dataset it wraps.
    """
    reseed = getattr(dataset, "reseed", None)
    if callable(reseed):
        reseed(int(seed))
        return True
    transform = getattr(dataset, "transform", None)
    if hasattr(transform, "set_random_seed"):
        transform.set_random_seed(int(seed))
        return True
    return False


def worker_init_fn(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: each worker its own NumPy, ``random`` and augmentation RNG.

    All three are seeded with the worker's torch seed, which PyTorch derives from the loader's
    generator and the worker id, so workers differ from each other and from epoch to epoch, yet
    a seeded run repeats exactly. The dataset is reseeded by :func:`reseed_dataset`.
    """
    info = torch.utils.data.get_worker_info()
    if info is None:
        return
    seed = int(info.seed % 2**32)
    np.random.seed(seed)  # noqa: NPY002 - libraries still use the global RNG
    random.seed(seed)
    if not reseed_dataset(info.dataset, seed):
        logger.debug("worker_init_fn: the dataset has no reseed() and no albumentations transform")
