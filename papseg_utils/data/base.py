"""The :class:`Sample` record that every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Sample:
    """One image with its label mask.

    Attributes
    ----------
    image : np.ndarray
        (H, W, 3) uint8 RGB.
    mask : np.ndarray
        (H, W) uint8 class ids of the loader's label scheme; ``IGNORE_INDEX``
        (255) where a pixel is to be ignored.
    name : str
        Unique name within the dataset (e.g. ``"carcinoma_in_situ/149143370-149143378-001"``).
    group : str
        Stratification key, e.g. the diagnostic class folder of a Herlev image.
    path : str | None
        Source image file, or ``None`` for generated samples.
    meta : dict
        Free-form extras (e.g. the synthetic generator's nucleus mask); not
        used by training code.
    """

    image: np.ndarray
    mask: np.ndarray
    name: str
    group: str
    path: str | None = None
    meta: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(
                f"Sample {self.name!r}: image must be (H, W, 3) uint8 RGB, "
                f"got {self.image.shape} {self.image.dtype}"
            )
        if self.mask.shape != self.image.shape[:2] or self.mask.dtype != np.uint8:
            raise ValueError(
                f"Sample {self.name!r}: mask must be (H, W) uint8 matching the image "
                f"{self.image.shape[:2]}, got {self.mask.shape} {self.mask.dtype}"
            )

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return int(self.image.shape[0]), int(self.image.shape[1])
