"""A torch ``Dataset`` over a list of :class:`~papseg_utils.data.base.Sample`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from papseg_utils.data.base import Sample
from papseg_utils.data.resize import letterbox


class SegmentationDataset(Dataset):
    """Images and masks ready for a segmentation network.

    Each item is a dict::

        {"image": (3, H, W) float32 normalised, "mask": (H, W) int64, "name": str}

    plus ``"label"`` (a scalar int64 tensor) when ``labels`` are given: the
    image-level class that an image head (:mod:`papseg_utils.models.heads`)
    learns.

    Steps per item: optional :func:`~papseg_utils.data.resize.letterbox` to
    ``image_size`` (cached), then the albumentations ``transform`` on the uint8
    image and mask, then ``(image / 255 - mean) / std``.

    Parameters
    ----------
    samples : sequence of Sample
        Decoded images and masks (loaders return these, already in memory).
    transform : albumentations.Compose or callable, optional
        Called as ``transform(image=..., mask=...)`` and returning a dict with
        ``image`` (H, W, 3) uint8 and ``mask`` (H, W); must not normalise or
        convert to tensors (this class does).
    image_size : int, optional
        Letterbox every sample to ``image_size`` x ``image_size`` (padding:
        gray image, ``IGNORE_INDEX`` mask). ``None`` keeps the sizes (then
        batch only same-sized images, or use ``batch_size=1``).
    mean, std : 3-tuples in [0, 1]
        Normalisation; take them from the model (``model.papseg_spec.mean``);
        EfficientNet-Lite0 wants 0.5 / 0.5.
    cache : bool
        Keep letterboxed arrays in memory (cheap for small sets such as Herlev).
    labels : sequence of int, optional
        One image-level class id per sample (e.g. 0 healthy, 1 unhealthy).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        transform: Callable | None = None,
        image_size: int | None = None,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        cache: bool = True,
        labels: Sequence[int] | None = None,
    ) -> None:
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean={mean}, std={std}: need 3 values each, std > 0")
        self.samples = list(samples)
        if labels is not None and len(labels) != len(self.samples):
            raise ValueError(f"{len(labels)} labels for {len(self.samples)} samples")
        self.labels = None if labels is None else [int(v) for v in labels]
        self.transform = transform
        self.image_size = image_size
        self.mean = np.asarray(mean, dtype=np.float32) * 255.0
        self.inv_std = 1.0 / (np.asarray(std, dtype=np.float32) * 255.0)
        self.cache = cache
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, object]] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def prepared(self, index: int) -> tuple[np.ndarray, np.ndarray, object]:
        """(image (H, W, 3) uint8, mask (H, W) uint8, letterbox Geometry or None) before augmentation."""
        if index in self._cache:
            return self._cache[index]
        s = self.samples[index]
        if self.image_size is not None:
            out = letterbox(s.image, s.mask, self.image_size)
        else:
            out = (s.image, s.mask, None)
        if self.cache:
            self._cache[index] = out
        return out

    def reseed(self, seed: int) -> None:
        """Reseed the augmentation (an albumentations pipeline's own RNG); no-op without one.

        Called by the training loop at every epoch and by DataLoader workers
        (:func:`papseg_utils.augment.worker_init_fn`).
        """
        if hasattr(self.transform, "set_random_seed"):
            self.transform.set_random_seed(int(seed))

    def geometry(self, index: int):
        """The letterbox :class:`~papseg_utils.data.resize.Geometry` of item ``index`` (or None)."""
        return self.prepared(index)[2]

    def __getitem__(self, index: int) -> dict:
        image, mask, _ = self.prepared(index)
        if self.transform is not None:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
            if isinstance(image, torch.Tensor):
                raise TypeError(
                    "SegmentationDataset: the transform returned tensors; drop Normalize/ToTensorV2 "
                    "from it (the dataset normalises with the model's mean/std)."
                )
        x = (np.asarray(image, dtype=np.float32) - self.mean) * self.inv_std
        item = {
            "image": torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))),
            "mask": torch.from_numpy(np.asarray(mask, dtype=np.int64)),
            "name": self.samples[index].name,
        }
        if self.labels is not None:
            item["label"] = torch.tensor(self.labels[index], dtype=torch.int64)
        return item
