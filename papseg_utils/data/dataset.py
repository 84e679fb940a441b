"""A torch ``Dataset`` over a list of :class:`~papseg_utils.data.base.Sample`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from papseg_utils.data.base import Sample
from papseg_utils.data.resize import letterbox
from papseg_utils.data.spacing import sample_patch, to_target_spacing
from papseg_utils.labels import IGNORE_INDEX


class SegmentationDataset(Dataset):
    """Images and masks ready for a segmentation network.

    Each item is a dict::

        {"image": (3, H, W) float32 normalised, "mask": (H, W) int64, "name": str}

    plus ``"label"`` (a scalar int64 tensor) when ``labels`` are given: the
    image-level class that an image head (:mod:`papseg_utils.models.heads`)
    learns.

    Steps per item, in one of two geometries:

    * letterbox (``image_size`` without ``target_spacing_um``):
      :func:`~papseg_utils.data.resize.letterbox` to ``image_size`` (cached), so every cell
      is rescaled by the size of its image;
    * scale-true (``target_spacing_um`` and ``patch_size``): each image is resampled from its
      ``pixel_size_um`` to ``target_spacing_um`` (cached;
      :func:`~papseg_utils.data.spacing.to_target_spacing`), then a ``patch_size`` patch is
      drawn (:func:`~papseg_utils.data.spacing.sample_patch`): random, with
      ``foreground_prob`` of them centred on a ``foreground`` class, when ``random_patches``
      (training), else the central patch (validation). 1 px is the same length in every image;

    then the albumentations ``transform`` on the uint8 image and mask, then
    ``(image / 255 - mean) / std``.

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
    target_spacing_um, pixel_size_um : float, optional
        Scale-true geometry: the spacing the network works at and the samples' pixel size
        (both um/px; ``pixel_size_um`` None means "already at the target spacing").
    patch_size : int, optional
        The largest side in px at the target spacing (scale-true geometry): an image that
        fits is padded to a square of its long side rounded up to ``size_multiple`` (see
        :meth:`side`), a larger one gives ``patch_size`` patches. Batch such items with
        :meth:`collate` and batches of similar :attr:`sizes`.
    random_patches : bool
        Random (training) or central (validation) patches.
    foreground : sequence of int
        Class ids whose pixels patches are centred on with probability ``foreground_prob``.
    seed : int
        Seed of the patch sampler (:meth:`reseed` sets it again every epoch).
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
        target_spacing_um: float | None = None,
        pixel_size_um: float | None = None,
        patch_size: int | None = None,
        random_patches: bool = False,
        foreground: Sequence[int] = (),
        foreground_prob: float = 0.33,
        seed: int = 0,
        size_multiple: int = 32,
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
        if (target_spacing_um is None) != (patch_size is None):
            raise ValueError("scale-true geometry needs both target_spacing_um and patch_size")
        if target_spacing_um is not None and image_size is not None:
            raise ValueError(
                "give image_size (letterbox) or target_spacing_um (scale-true), not both"
            )
        self.target_spacing_um = target_spacing_um
        self.pixel_size_um = pixel_size_um
        self.patch_size = patch_size
        self.random_patches = bool(random_patches)
        self.foreground = tuple(int(c) for c in foreground)
        self.foreground_prob = float(foreground_prob)
        self.size_multiple = int(size_multiple)
        self._rng = np.random.default_rng(seed)
        self.cache = cache
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, object]] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def prepared(self, index: int) -> tuple[np.ndarray, np.ndarray, object]:
        """(image (H, W, 3) uint8, mask (H, W) uint8, letterbox Geometry or None) before augmentation.

        Letterboxed to ``image_size``, or resampled to the target spacing (whole image, before
        the patch is drawn), or as loaded.
        """
        if index in self._cache:
            return self._cache[index]
        s = self.samples[index]
        if self.target_spacing_um is not None:
            px = self.pixel_size_um or self.target_spacing_um
            out = (*to_target_spacing(s.image, s.mask, px, self.target_spacing_um), None)
        elif self.image_size is not None:
            out = letterbox(s.image, s.mask, self.image_size)
        else:
            out = (s.image, s.mask, None)
        if self.cache:
            self._cache[index] = out
        return out

    def reseed(self, seed: int) -> None:
        """Reseed the patch sampler and the augmentation (an albumentations pipeline's own RNG).

        Called by the training loop at every epoch and by DataLoader workers
        (:func:`papseg_utils.train.seeding.worker_init_fn`).
        """
        self._rng = np.random.default_rng(int(seed))
        if hasattr(self.transform, "set_random_seed"):
            self.transform.set_random_seed(int(seed))

    def side(self, index: int) -> int:
        """Side (px) of item ``index`` in the scale-true geometry (None in the letterbox one).

        The image's long side at the target spacing rounded up to ``size_multiple``, at most
        ``patch_size``: an image that fits is padded only that far (no compute spent on a
        canvas), a larger one gives ``patch_size`` patches.
        """
        if self.patch_size is None:
            return None
        h, w = self.prepared(index)[0].shape[:2]
        m = self.size_multiple
        return int(min(self.patch_size, -(-max(h, w) // m) * m))

    @property
    def sizes(self) -> list[int] | None:
        """Every item's :meth:`side` (scale-true), for batches of similar sizes; else None."""
        if self.patch_size is None:
            return None
        return [self.side(i) for i in range(len(self))]

    def collate(self, items: list[dict]) -> dict:
        """Batch items of different sides: pad each to the largest (gray image, ignored mask).

        (B, 3, S, S) float32 images, (B, S, S) int64 masks, names (and labels) as lists /
        a tensor; items that already share one side are stacked as they are.
        """
        side = max(int(it["image"].shape[-1]) for it in items)
        fill = torch.from_numpy((128.0 - self.mean) * self.inv_std).view(3, 1, 1)
        images, masks = [], []
        for it in items:
            x, m = it["image"], it["mask"]
            h, w = x.shape[-2:]
            if (h, w) != (side, side):
                top, left = (side - h) // 2, (side - w) // 2
                xp = fill.expand(3, side, side).clone()
                xp[:, top : top + h, left : left + w] = x
                mp = torch.full((side, side), IGNORE_INDEX, dtype=m.dtype)
                mp[top : top + h, left : left + w] = m
                x, m = xp, mp
            images.append(x)
            masks.append(m)
        out = {"image": torch.stack(images), "mask": torch.stack(masks),
               "name": [it["name"] for it in items]}  # fmt: skip
        if "label" in items[0]:
            out["label"] = torch.stack([it["label"] for it in items])
        return out

    def geometry(self, index: int):
        """The letterbox :class:`~papseg_utils.data.resize.Geometry` of item ``index`` (or None)."""
        return self.prepared(index)[2]

    def __getitem__(self, index: int) -> dict:
        image, mask, _ = self.prepared(index)
        if self.patch_size is not None:
            rng = self._rng if self.random_patches else None
            image, mask = sample_patch(image, mask, self.side(index), rng, self.foreground,
                                       self.foreground_prob)  # fmt: skip
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
