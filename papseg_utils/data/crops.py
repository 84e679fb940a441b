"""Crops of large fields (e.g. 2000x2000 APACS23/APACC slices) as torch Datasets.

Large fields are never all decoded: each dataset holds *references* to fields
(:class:`FieldRef`: an image path with a mask path or a mask-builder function,
or an in-memory :class:`~papseg_utils.data.base.Sample`) and decodes a field
only when a crop of it is requested, keeping the last ``cache_size`` decoded
fields in a small LRU cache.

* :class:`RandomCropDataset` (training): ``crops_per_field`` random crops per
  field per epoch. Items ``i`` are grouped by field (``i // crops_per_field``)
  and the field order is permuted per epoch (:meth:`~RandomCropDataset.set_epoch`),
  so use the DataLoader with ``shuffle=False``: consecutive crops then come
  from the same decoded field and the cache hits. ``foreground_p`` centres a
  crop on a random non-background pixel with that probability (cells are sparse
  in many fields).
* :class:`SlidingWindowDataset` (evaluation / inference): a regular grid of
  windows with overlap covering every pixel, in field-major order; with
  :func:`stitch` the window logits are blended back into one
  (C, H, W) map per field.

Items are dicts like :class:`~papseg_utils.data.dataset.SegmentationDataset`'s:
``image`` (3, h, w) float32 normalised with ``mean``/``std``, ``mask`` (h, w)
int64, ``name`` str, plus ``field`` (int index) and ``origin`` (y, x) int64 of
the crop's top-left corner in the field.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from papseg_utils.data.base import Sample
from papseg_utils.data.io import read_image, read_label_mask
from papseg_utils.labels import IGNORE_INDEX

logger = logging.getLogger(__name__)

MaskBuilder = Callable[[np.ndarray], np.ndarray]
"""Function image (H, W, 3) uint8 -> mask (H, W) uint8 (e.g. a paper-mask recipe)."""


@dataclass(frozen=True)
class FieldRef:
    """How to get one field: a Sample, or an image path plus a mask path or builder.

    Attributes
    ----------
    image_path : str | None
        Image file (ignored when ``sample`` is set).
    mask_path : str | None
        Label mask file (single-channel PNG of class ids).
    mask_builder : callable | None
        ``f(image) -> mask`` used instead of ``mask_path`` (e.g. a closure over
        APACC boxes and :func:`~papseg_utils.data.paper_masks.build_paper_mask`).
    name : str
        Name used in items (defaults to the image file stem).
    sample : Sample | None
        In-memory field.
    """

    image_path: str | None = None
    mask_path: str | None = None
    mask_builder: MaskBuilder | None = None
    name: str = ""
    sample: Sample | None = None

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """Decode: image (H, W, 3) uint8, mask (H, W) uint8."""
        if self.sample is not None:
            return self.sample.image, self.sample.mask
        if self.image_path is None:
            raise ValueError(f"FieldRef {self.name!r} has neither a sample nor an image_path")
        if self.mask_builder is None and self.mask_path is None:
            raise ValueError(
                f"{self.image_path}: no mask_path or mask_builder; give one of them "
                "(use mask_builder=lambda im: np.zeros(im.shape[:2], np.uint8) for unlabeled data)"
            )
        image = read_image(self.image_path)
        if self.mask_builder is not None:
            mask = np.asarray(self.mask_builder(image), dtype=np.uint8)
        else:
            mask = read_label_mask(self.mask_path)
        if mask.shape != image.shape[:2]:
            raise ValueError(
                f"{self.mask_path or self.image_path}: mask {mask.shape} does not match image "
                f"{image.shape[:2]}"
            )
        return image, mask

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.sample is not None:
            return self.sample.name
        from pathlib import Path

        return Path(self.image_path or "").stem


def as_field_refs(items: Sequence[Any]) -> list[FieldRef]:
    """Accept FieldRef, Sample, (image_path, mask_path | builder) tuples, or
    objects with ``image_path``/``mask_path``/``name`` (e.g. ``apacs23.FieldItem``)."""
    refs = []
    for i, it in enumerate(items):
        if isinstance(it, FieldRef):
            refs.append(it)
        elif isinstance(it, Sample):
            refs.append(FieldRef(sample=it, name=it.name))
        elif isinstance(it, tuple) and len(it) == 2:
            img, m = it
            if callable(m):
                refs.append(FieldRef(image_path=str(img), mask_builder=m))
            else:
                refs.append(FieldRef(image_path=str(img), mask_path=None if m is None else str(m)))
        elif hasattr(it, "image_path"):
            refs.append(
                FieldRef(
                    image_path=str(it.image_path),
                    mask_path=getattr(it, "mask_path", None),
                    name=getattr(it, "name", ""),
                )
            )
        else:
            raise TypeError(
                f"field {i}: cannot use {type(it).__name__}; give a Sample, a FieldRef, an "
                "(image_path, mask_path or mask_builder) tuple, or an item with image_path"
            )
    if not refs:
        raise ValueError("no fields given")
    return refs


class FieldCache:
    """LRU cache of decoded fields (index -> (image, mask)); at most ``size`` held."""

    def __init__(self, refs: Sequence[FieldRef], size: int = 2, binarize: bool = False) -> None:
        if size < 1:
            raise ValueError(f"cache_size={size} must be >= 1")
        self.refs = list(refs)
        self.size = size
        self.binarize = binarize
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.decodes = 0

    def get(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if i in self._cache:
            self._cache.move_to_end(i)
            return self._cache[i]
        image, mask = self.refs[i].load()
        if self.binarize:
            mask = (mask > 0).astype(np.uint8)
        self.decodes += 1
        self._cache[i] = (image, mask)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return image, mask

    def __getstate__(self) -> dict:  # workers start with an empty cache
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()
        return state


def _crop(
    image: np.ndarray, mask: np.ndarray, y: int, x: int, h: int, w: int
) -> tuple[np.ndarray, np.ndarray]:
    """Crop (h, w) at (y, x); parts outside the field are image 0, mask IGNORE_INDEX."""
    H, W = mask.shape
    if y >= 0 and x >= 0 and y + h <= H and x + w <= W:
        return image[y : y + h, x : x + w], mask[y : y + h, x : x + w]
    out_i = np.zeros((h, w, 3), np.uint8)
    out_m = np.full((h, w), IGNORE_INDEX, np.uint8)
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + h, H), min(x + w, W)
    if y1 > y0 and x1 > x0:
        out_i[y0 - y : y1 - y, x0 - x : x1 - x] = image[y0:y1, x0:x1]
        out_m[y0 - y : y1 - y, x0 - x : x1 - x] = mask[y0:y1, x0:x1]
    return out_i, out_m


def _to_item(
    image: np.ndarray,
    mask: np.ndarray,
    transform: Callable[..., dict] | None,
    mean: np.ndarray,
    std: np.ndarray,
) -> tuple[torch.Tensor, torch.Tensor]:
    if transform is not None:
        out = transform(image=np.ascontiguousarray(image), mask=np.ascontiguousarray(mask))
        image, mask = out["image"], out["mask"]
    img = (image.astype(np.float32) / 255.0 - mean) / std
    return (
        torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))),
        torch.from_numpy(np.asarray(mask, dtype=np.int64)),
    )


class RandomCropDataset(Dataset):
    """Random ``crop_size`` crops of large fields, decoded lazily (training).

    Parameters
    ----------
    fields : sequence
        Anything :func:`as_field_refs` accepts.
    crop_size : int or (h, w)
        Crop size in px; fields smaller than that are padded (mask IGNORE_INDEX).
    crops_per_field : int
        Crops drawn from each field per epoch; ``len = len(fields) * crops_per_field``.
    transform : albumentations Compose, optional
        Applied to each uint8 crop before normalisation (e.g. ``get_policy("medical")``).
    foreground_p : float
        Probability of centring a crop on a random pixel whose label is neither
        background (0) nor ignore; otherwise the crop position is uniform.
    seed : int
        Crops are a deterministic function of (seed, epoch, index).
    cache_size : int
        Decoded fields kept in memory (per worker).
    mean, std : 3 floats
        Normalisation after scaling to [0, 1].
    binarize : bool
        Map every non-zero label to 1 (binary cell masks).
    """

    def __init__(
        self,
        fields: Sequence[Any],
        crop_size: int | tuple[int, int] = 512,
        crops_per_field: int = 8,
        transform: Callable[..., dict] | None = None,
        foreground_p: float = 0.5,
        seed: int = 0,
        cache_size: int = 2,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        binarize: bool = False,
    ) -> None:
        self.refs = as_field_refs(fields)
        self.crop_hw = (crop_size, crop_size) if isinstance(crop_size, int) else tuple(crop_size)
        if min(self.crop_hw) <= 0 or crops_per_field < 1 or not 0 <= foreground_p <= 1:
            raise ValueError(
                f"crop_size={crop_size}, crops_per_field={crops_per_field} and "
                f"foreground_p={foreground_p} must be positive / in [0, 1]"
            )
        self.crops_per_field = crops_per_field
        self.transform = transform
        self.foreground_p = foreground_p
        self.seed = seed
        self.cache = FieldCache(self.refs, cache_size, binarize)
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Re-draw the field order and crop positions for ``epoch``."""
        self.epoch = int(epoch)
        rng = np.random.default_rng([self.seed, self.epoch])
        self.order = rng.permutation(len(self.refs))

    def __len__(self) -> int:
        return len(self.refs) * self.crops_per_field

    def position(self, index: int, mask: np.ndarray) -> tuple[int, int]:
        """Top-left (y, x) of crop ``index`` in its field's ``mask`` (H, W)."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        (H, W), (h, w) = mask.shape, self.crop_hw
        if rng.random() < self.foreground_p:
            ys, xs = np.nonzero((mask != 0) & (mask != IGNORE_INDEX))
            if len(ys):
                k = rng.integers(len(ys))
                y = int(np.clip(ys[k] - h // 2, min(0, H - h), max(0, H - h)))
                x = int(np.clip(xs[k] - w // 2, min(0, W - w), max(0, W - w)))
                return y, x
        y = int(rng.integers(0, H - h + 1)) if H >= h else (H - h) // 2
        x = int(rng.integers(0, W - w + 1)) if W >= w else (W - w) // 2
        return y, x

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        f = int(self.order[index // self.crops_per_field])
        image, mask = self.cache.get(f)
        y, x = self.position(index, mask)
        ci, cm = _crop(image, mask, y, x, *self.crop_hw)
        img, m = _to_item(ci, cm, self.transform, self.mean, self.std)
        return {
            "image": img,
            "mask": m,
            "name": f"{self.refs[f].label}@{y},{x}",
            "field": f,
            "origin": torch.tensor([y, x], dtype=torch.int64),
        }


def window_positions(length: int, window: int, stride: int) -> list[int]:
    """Start offsets of windows covering ``[0, length)``; the last one ends at ``length``.

    A field shorter than the window gets the single offset 0 (the crop is padded).
    """
    if window <= 0 or stride <= 0:
        raise ValueError(f"window={window} and stride={stride} must be positive")
    if length <= window:
        return [0]
    pos = list(range(0, length - window + 1, stride))
    if pos[-1] != length - window:
        pos.append(length - window)
    return pos


class SlidingWindowDataset(Dataset):
    """Overlapping windows covering every pixel of each field (evaluation / inference).

    Parameters
    ----------
    fields : sequence
        Anything :func:`as_field_refs` accepts.
    window : int
        Window size in px (square).
    overlap : float
        Fraction of the window shared by neighbours, in [0, 1); stride =
        ``round(window * (1 - overlap))``.
    cache_size, mean, std, binarize : see :class:`RandomCropDataset`.

    Field sizes are read when the dataset is built only for in-memory samples;
    for files, each field's size is read from the image header.
    """

    def __init__(
        self,
        fields: Sequence[Any],
        window: int = 512,
        overlap: float = 0.25,
        cache_size: int = 1,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
        binarize: bool = False,
    ) -> None:
        if not 0 <= overlap < 1:
            raise ValueError(f"overlap={overlap} must be in [0, 1)")
        self.refs = as_field_refs(fields)
        self.window = int(window)
        self.stride = max(1, round(self.window * (1 - overlap)))
        self.cache = FieldCache(self.refs, cache_size, binarize)
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.field_shapes = [self._shape(r) for r in self.refs]
        self.index: list[tuple[int, int, int]] = []
        for f, (H, W) in enumerate(self.field_shapes):
            for y in window_positions(H, self.window, self.stride):
                for x in window_positions(W, self.window, self.stride):
                    self.index.append((f, y, x))

    @staticmethod
    def _shape(ref: FieldRef) -> tuple[int, int]:
        if ref.sample is not None:
            return ref.sample.size
        from PIL import Image

        with Image.open(ref.image_path) as img:
            w, h = img.size
        return h, w

    def __len__(self) -> int:
        return len(self.index)

    def windows_of(self, field: int) -> list[int]:
        """Dataset indices of the windows of ``field``."""
        return [i for i, (f, _, _) in enumerate(self.index) if f == field]

    def __getitem__(self, index: int) -> dict[str, Any]:
        f, y, x = self.index[index]
        image, mask = self.cache.get(f)
        ci, cm = _crop(image, mask, y, x, self.window, self.window)
        img, m = _to_item(ci, cm, None, self.mean, self.std)
        return {
            "image": img,
            "mask": m,
            "name": f"{self.refs[f].label}@{y},{x}",
            "field": f,
            "origin": torch.tensor([y, x], dtype=torch.int64),
        }


def blend_weights(window: int, kind: str = "cosine") -> np.ndarray:
    """(window, window) float32 weights for blending overlapping windows.

    ``"cosine"`` (a raised cosine, never zero, heavier in the centre where the
    network sees context on all sides) or ``"uniform"`` (plain average).
    """
    if kind == "uniform":
        return np.ones((window, window), np.float32)
    if kind != "cosine":
        raise ValueError(f"kind={kind!r}; use 'cosine' or 'uniform'")
    t = (np.arange(window, dtype=np.float32) + 0.5) / window
    w1 = 0.1 + 0.9 * np.sin(np.pi * t) ** 2
    return np.outer(w1, w1).astype(np.float32)


def stitch(
    logits: torch.Tensor | np.ndarray,
    origins: Sequence[tuple[int, int]],
    shape: tuple[int, int],
    weights: str = "cosine",
) -> np.ndarray:
    """Blend window logits back into one field.

    Parameters
    ----------
    logits : (K, C, w, w) float
        Logits (or probabilities) of the K windows of one field.
    origins : K (y, x) pairs
        Top-left corners, as in the items' ``origin``.
    shape : (H, W)
        Field size.
    weights : {"cosine", "uniform"}

    Returns
    -------
    (C, H, W) float32
        Weighted average of the overlapping windows at every pixel.
    """
    arr = logits.detach().cpu().numpy() if isinstance(logits, torch.Tensor) else np.asarray(logits)
    if arr.ndim != 4 or len(arr) != len(origins):
        raise ValueError(f"logits {arr.shape} must be (K, C, w, w) with K = {len(origins)} origins")
    k, c, wh, ww = arr.shape
    H, W = shape
    wt = blend_weights(wh, weights) if wh == ww else np.ones((wh, ww), np.float32)
    acc = np.zeros((c, H, W), np.float32)
    norm = np.zeros((H, W), np.float32)
    for a, (y, x) in zip(arr, origins, strict=True):
        y, x = int(y), int(x)
        y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + wh, H), min(x + ww, W)
        sl = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
        acc[:, y0:y1, x0:x1] += a[:, sl[0], sl[1]] * wt[sl]
        norm[y0:y1, x0:x1] += wt[sl]
    if (norm == 0).any():
        raise ValueError("the windows do not cover the whole field; pass all windows of it")
    return acc / norm
