"""Datasets, loaders, the synthetic generator, splits and the registry.

Quick start::

    from papseg_utils.data import load_dataset
    samples = load_dataset("synthetic", n=8, seed=0)          # list[Sample]
    samples = load_dataset("herlev", scheme="herlev3")        # reads $PAPSEG_HERLEV_DIR

Your own dataset: ``register_dataset(DatasetInfo(name=..., description=...), loader)`` (see
:mod:`papseg_utils.data.registry`).
"""

from papseg_utils.data.base import Sample
from papseg_utils.data.errors import (
    DataFormatError,
    DataLayoutError,
    DatasetError,
    DatasetNotFoundError,
    MissingMaskError,
    SizeMismatchError,
    UnknownLabelError,
)
from papseg_utils.data.registry import (
    DatasetInfo,
    describe,
    get_info,
    is_available,
    list_datasets,
    load_dataset,
    register,
    register_dataset,
    unregister_dataset,
    validate,
)

__all__ = [
    "DataFormatError",
    "DataLayoutError",
    "DatasetError",
    "DatasetInfo",
    "DatasetNotFoundError",
    "MissingMaskError",
    "Sample",
    "SizeMismatchError",
    "UnknownLabelError",
    "describe",
    "get_info",
    "is_available",
    "list_datasets",
    "load_dataset",
    "register",
    "register_dataset",
    "unregister_dataset",
    "validate",
]
