"""Augmentation policies for Pap smear segmentation (albumentations 2.x).

Four named policies, from nothing to a lot:

``none``
    No change (optionally a centre crop/pad to ``image_size``).
``basic``
    Geometry only: the dihedral group (flips and 90-degree rotations, which a
    smear does not care about) and a mild :class:`~albumentations.Affine`.
``medical``
    ``basic`` plus what differs between labs, scanners and slides: stain and
    colour variation (:class:`PapStainJitter` in optical-density space, or a
    small HSV shift), contrast (CLAHE, gamma, brightness/contrast), focus
    (Gaussian blur, disk defocus, motion blur), scanner noise, elastic and grid
    deformations of the soft cell shapes, and coarse dropout for occluders.
``strong``
    ``medical`` with higher probabilities and magnitudes, plus scale jitter
    (``RandomResizedCrop`` when ``image_size`` is given, a wider Affine scale
    otherwise).

Every policy is an :class:`albumentations.Compose` that takes ``image`` (H, W, 3)
uint8 RGB and ``mask`` (H, W) uint8 labels and returns the same types. Masks
are only ever resampled with nearest-neighbour interpolation, so they keep
integer labels and never gain values other than the input's, except
``IGNORE_INDEX`` (255) where a transform fills pixels it invents:

* pixels that come from outside the image (padding) are ``IGNORE_INDEX``;
* **CoarseDropout holes are ``IGNORE_INDEX`` in the mask.** The image there is
  erased, so the network has no evidence of what is underneath. Keeping the
  original labels asks it to hallucinate cells it cannot see (and rewards
  guessing over looking); relabelling the hole as background teaches that an
  occluder means "no cell", which is false for a debris-covered cell. Ignoring
  the hole makes the loss skip it: the dropout still regularises the features
  around it (the network must use context) without a wrong target. Use
  ``dropout_mask="keep"`` to get the other behaviour for an ablation.

Randomness: ``get_policy(name, seed=s)`` gives a Compose whose sequence of
draws is fixed by ``s`` (albumentations' own RNG, independent of numpy's and
Python's global state). Each DataLoader worker holds a copy of that RNG, so
with ``num_workers > 0`` pass :func:`worker_init_fn` to the DataLoader, or all
workers repeat the same augmentations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import albumentations as A
import cv2
import numpy as np
import pandas as pd

from papseg_utils.labels import IGNORE_INDEX

logger = logging.getLogger(__name__)

POLICIES: list[str] = ["none", "basic", "medical", "strong"]
"""Valid policy names, from weakest to strongest."""

# Stain optical-density (OD) vectors, rows = stains, columns = R, G, B.
# Hematoxylin and eosin from Ruifrok & Johnston (2001) as tabulated in
# scikit-image (``rgb_from_hed``); light green SF from the same tables
# (``rgb_from_fgx``). Papanicolaou staining uses hematoxylin (nuclei), eosin
# and light green (EA-50; mature vs metabolically active cytoplasm) and orange G
# (keratin; close to eosin in OD space). These are approximate published
# vectors, not measured on any Pap scanner.
PAP_STAIN_VECTORS: np.ndarray = np.array(
    [
        [0.65, 0.70, 0.29],  # hematoxylin
        [0.07, 0.99, 0.11],  # eosin (and, approximately, orange G)
        [0.94705542, 0.25373821, 0.19650764],  # light green SF
    ],
    dtype=np.float64,
)
PAP_STAIN_NAMES: tuple[str, str, str] = ("hematoxylin", "eosin", "light_green")

_OD_LUT: np.ndarray = (-np.log((np.arange(256, dtype=np.float32) + 1.0) / 256.0)).astype(np.float32)


class PapStainJitter(A.ImageOnlyTransform):
    """Random stain intensity change in optical-density space (Pap stains).

    The image is converted to optical density ``OD = -ln((I + 1) / 256)``,
    unmixed into concentrations of the three stains in ``stain_vectors``
    (default :data:`PAP_STAIN_VECTORS`: hematoxylin, eosin, light green), and
    each concentration ``c`` becomes ``alpha * c + beta`` with
    ``alpha ~ U(1 - sigma_scale, 1 + sigma_scale)`` and
    ``beta ~ U(-sigma_shift, sigma_shift)`` per stain (the HED jitter of
    Tellez et al. 2018, with Pap stain vectors). Because the whole map is linear
    in OD it is applied as one 3x3 matrix plus an offset.

    It models a lab that stains more or less strongly, or a different batch of
    dye; it never rotates hues arbitrarily, so nuclei stay blue-purple and
    cytoplasm stays green or pink. Image-only: masks are not touched.

    Parameters
    ----------
    sigma_scale : float
        Half-width of the multiplicative range (0.15 -> x0.85..1.15).
    sigma_shift : float
        Half-width of the additive range in OD units; background (OD 0)
        changes by at most about this much, so keep it small (default 0.03).
    stain_vectors : array (3, 3) or None
        OD vectors of the stains (rows); ``None`` uses :data:`PAP_STAIN_VECTORS`.
    p : float
        Probability of applying.
    """

    def __init__(
        self,
        sigma_scale: float = 0.15,
        sigma_shift: float = 0.03,
        stain_vectors: Any = None,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        if not 0 <= sigma_scale < 1:
            raise ValueError(f"PapStainJitter: sigma_scale={sigma_scale} must be in [0, 1)")
        if sigma_shift < 0:
            raise ValueError(f"PapStainJitter: sigma_shift={sigma_shift} must be >= 0")
        vectors = PAP_STAIN_VECTORS if stain_vectors is None else np.asarray(stain_vectors, float)
        if vectors.shape != (3, 3):
            raise ValueError(
                f"PapStainJitter: stain_vectors has shape {vectors.shape}; expected (3, 3), "
                "one OD row vector per stain"
            )
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        if abs(np.linalg.det(vectors)) < 1e-3:
            raise ValueError("PapStainJitter: stain_vectors are (nearly) linearly dependent")
        self.sigma_scale = float(sigma_scale)
        self.sigma_shift = float(sigma_shift)
        self.stain_vectors = None if stain_vectors is None else vectors.tolist()
        self._m = vectors
        self._m_inv = np.linalg.inv(vectors)

    def get_params(self) -> dict[str, Any]:
        """Draw per-stain scale ``alpha`` (3,) and shift ``beta`` (3,)."""
        rng = self.random_generator
        alpha = rng.uniform(1 - self.sigma_scale, 1 + self.sigma_scale, size=3)
        beta = rng.uniform(-self.sigma_shift, self.sigma_shift, size=3)
        return {"alpha": alpha, "beta": beta}

    def apply(
        self, img: np.ndarray, alpha: np.ndarray, beta: np.ndarray, **params: Any
    ) -> np.ndarray:
        """Apply the jitter to ``img`` (H, W, 3) uint8 -> (H, W, 3) uint8."""
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(
                f"PapStainJitter needs an (H, W, 3) uint8 RGB image, got {img.shape} {img.dtype}"
            )
        # od_new = od @ (M^-1 diag(alpha) M) + beta @ M
        matrix = (self._m_inv * alpha[None, :]) @ self._m
        offset = beta @ self._m
        od = _OD_LUT[img]
        out = cv2.transform(od, matrix.T.astype(np.float32))  # per-pixel matrix @ [r, g, b]
        out += offset.astype(np.float32)
        np.negative(out, out=out)
        cv2.exp(out, out)
        out *= 256.0
        out -= 1.0
        return np.clip(out, 0, 255).astype(np.uint8)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("sigma_scale", "sigma_shift", "stain_vectors")


class DiskDefocus(A.ImageOnlyTransform):
    """Optical defocus: convolution with an anti-aliased disk of random radius.

    Same model as albumentations' ``Defocus`` (a disk point-spread function),
    about 20x faster at 512x512 because it is one ``cv2.filter2D`` with a
    small kernel. Image-only.

    Parameters
    ----------
    radius : (int, int)
        Range of the disk radius in px (inclusive).
    p : float
        Probability of applying.
    """

    def __init__(self, radius: tuple[int, int] = (1, 3), p: float = 0.5) -> None:
        super().__init__(p=p)
        lo, hi = int(radius[0]), int(radius[1])
        if not 1 <= lo <= hi:
            raise ValueError(f"DiskDefocus: radius={radius} must satisfy 1 <= low <= high")
        self.radius = (lo, hi)

    @staticmethod
    def kernel(radius: int) -> np.ndarray:
        """(2r+1, 2r+1) float32 disk kernel summing to 1 (edges anti-aliased by 4x supersampling)."""
        size = 2 * radius + 1
        t = (np.arange(size * 4, dtype=np.float32) + 0.5) / 4 - size / 2
        fine = (t[:, None] ** 2 + t[None, :] ** 2 <= (radius + 0.5) ** 2).astype(np.float32)
        k = fine.reshape(size, 4, size, 4).mean(axis=(1, 3))
        return (k / k.sum()).astype(np.float32)

    def get_params(self) -> dict[str, Any]:
        return {"radius": int(self.py_random.randint(*self.radius))}

    def apply(self, img: np.ndarray, radius: int, **params: Any) -> np.ndarray:
        return cv2.filter2D(img, -1, self.kernel(radius), borderType=cv2.BORDER_REFLECT_101)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("radius",)


@dataclass(frozen=True)
class _Strength:
    """Magnitudes and probabilities that differ between ``medical`` and ``strong``."""

    p_affine: float
    affine_scale: tuple[float, float]
    affine_rotate: float
    p_deform: float
    elastic_alpha: float
    grid_limit: float
    p_colour: float
    stain_scale: float
    stain_shift: float
    hsv_hue: float
    hsv_sat: float
    p_contrast: float
    p_blur: float
    blur_sigma: tuple[float, float]
    defocus_radius: tuple[int, int]
    motion_limit: tuple[int, int]
    p_noise: float
    noise_std: tuple[float, float]
    p_dropout: float
    dropout_holes: tuple[int, int]


_MEDICAL = _Strength(
    p_affine=0.5,
    affine_scale=(0.9, 1.1),
    affine_rotate=15.0,
    p_deform=0.25,
    elastic_alpha=30.0,
    grid_limit=0.15,
    p_colour=0.8,
    stain_scale=0.15,
    stain_shift=0.03,
    hsv_hue=4.0,
    hsv_sat=15.0,
    p_contrast=0.5,
    p_blur=0.3,
    blur_sigma=(0.3, 1.2),
    defocus_radius=(1, 3),
    motion_limit=(3, 5),
    p_noise=0.25,
    noise_std=(0.01, 0.04),
    p_dropout=0.2,
    dropout_holes=(1, 3),
)
_STRONG = _Strength(
    p_affine=0.7,
    affine_scale=(0.75, 1.33),
    affine_rotate=30.0,
    p_deform=0.5,
    elastic_alpha=60.0,
    grid_limit=0.3,
    p_colour=0.95,
    stain_scale=0.3,
    stain_shift=0.06,
    hsv_hue=8.0,
    hsv_sat=25.0,
    p_contrast=0.7,
    p_blur=0.5,
    blur_sigma=(0.5, 2.0),
    defocus_radius=(1, 5),
    motion_limit=(3, 9),
    p_noise=0.5,
    noise_std=(0.02, 0.08),
    p_dropout=0.4,
    dropout_holes=(1, 6),
)

# Why each transform matters for cytology (shown by describe_policy).
WHY: dict[str, str] = {
    "SquareSymmetry": "A smear has no up or left: flips and 90-degree rotations are exact symmetries.",
    "Affine": "Cells vary in size and orientation; mild scale/rotation adds variety without "
    "changing what a cell looks like.",
    "ElasticTransform": "Cytoplasm is soft and folds; smooth local warps mimic different cell shapes.",
    "GridDistortion": "Cheap non-rigid warp: cells squashed or stretched when smeared.",
    "PapStainJitter": "Stain strength differs between labs, dye batches and staining times; "
    "jitter in stain (OD) space keeps nuclei blue and cytoplasm green/pink.",
    "HueSaturationValue": "Small hue/saturation shifts model scanner colour profiles; large hue "
    "shifts would turn green cytoplasm pink and change its meaning.",
    "CLAHE": "Local contrast differs with illumination and thickness of the smear.",
    "RandomGamma": "Scanner exposure and camera response curves differ.",
    "RandomBrightnessContrast": "Lamp brightness, smear thickness and exposure vary.",
    "GaussianBlur": "Thick smears and overlapping cells are partly out of the focal plane.",
    "DiskDefocus": "Optical defocus (disk blur) of a slide scanned at the wrong focal depth.",
    "MotionBlur": "Line-scan and stage motion smear the image in one direction.",
    "GaussNoise": "Sensor noise, especially in dark, dense nuclei and low-light scans.",
    "CoarseDropout": "Debris, mucus and other cells hide parts of cells; holes are ignored "
    "in the loss (mask = IGNORE_INDEX), not relabelled.",
    "RandomResizedCrop": "Scale jitter: magnification and pixel size differ between scanners.",
    "PadIfNeeded": "Pads small images to image_size; padded mask pixels are ignored.",
    "RandomCrop": "Random patch of image_size from a larger field.",
    "CenterCrop": "Central patch of image_size (deterministic).",
}

_BORDER = cv2.BORDER_REFLECT_101


def _size_stage(
    image_size: int | None, random: bool, scale_jitter: tuple[float, float] | None
) -> list[A.BasicTransform]:
    """Transforms that bring any input to (image_size, image_size)."""
    if image_size is None:
        return []
    size = int(image_size)
    if size <= 0:
        raise ValueError(f"image_size={image_size} must be a positive integer or None")
    pad = A.PadIfNeeded(
        min_height=size,
        min_width=size,
        border_mode=cv2.BORDER_CONSTANT,
        fill=0,
        fill_mask=IGNORE_INDEX,
        p=1.0,
    )
    if scale_jitter is not None:
        crop = A.RandomResizedCrop(
            size=(size, size),
            scale=scale_jitter,
            ratio=(0.8, 1.25),
            mask_interpolation=cv2.INTER_NEAREST,
            p=1.0,
        )
    elif random:
        crop = A.RandomCrop(height=size, width=size, p=1.0)
    else:
        crop = A.CenterCrop(height=size, width=size, p=1.0)
    return [pad, crop]


def _geometry(s: _Strength, wide_scale: bool) -> list[A.BasicTransform]:
    scale = s.affine_scale if wide_scale else _MEDICAL.affine_scale
    return [
        A.SquareSymmetry(p=1.0),
        A.Affine(
            scale=scale,
            rotate=(-s.affine_rotate, s.affine_rotate),
            translate_percent=(-0.05, 0.05),
            interpolation=cv2.INTER_LINEAR,
            mask_interpolation=cv2.INTER_NEAREST,
            border_mode=_BORDER,
            p=s.p_affine,
        ),
    ]


def medical_transforms(
    strength: Literal["medical", "strong"] = "medical",
    dropout_mask: Literal["ignore", "keep"] = "ignore",
) -> list[tuple[str, A.BasicTransform]]:
    """The individual non-geometric-symmetry transforms of a policy, each with ``p=1``.

    Returns a list of ``(name, transform)`` used by tests, the benchmark and the
    augmentation chapter to study one transform at a time.
    """
    s = _MEDICAL if strength == "medical" else _STRONG
    fill_mask = IGNORE_INDEX if dropout_mask == "ignore" else None
    if dropout_mask not in ("ignore", "keep"):
        raise ValueError(f"dropout_mask={dropout_mask!r}; use 'ignore' or 'keep'")
    return [
        ("SquareSymmetry", A.SquareSymmetry(p=1.0)),
        (
            "Affine",
            A.Affine(
                scale=s.affine_scale,
                rotate=(-s.affine_rotate, s.affine_rotate),
                translate_percent=(-0.05, 0.05),
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=_BORDER,
                p=1.0,
            ),
        ),
        (
            "ElasticTransform",
            A.ElasticTransform(
                alpha=s.elastic_alpha,
                sigma=6.0,
                approximate=True,
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=_BORDER,
                p=1.0,
            ),
        ),
        (
            "GridDistortion",
            A.GridDistortion(
                num_steps=5,
                distort_limit=(-s.grid_limit, s.grid_limit),
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=_BORDER,
                p=1.0,
            ),
        ),
        (
            "PapStainJitter",
            PapStainJitter(sigma_scale=s.stain_scale, sigma_shift=s.stain_shift, p=1.0),
        ),
        (
            "HueSaturationValue",
            A.HueSaturationValue(
                hue_shift_limit=(-s.hsv_hue, s.hsv_hue),
                sat_shift_limit=(-s.hsv_sat, s.hsv_sat),
                val_shift_limit=(-10, 10),
                p=1.0,
            ),
        ),
        ("CLAHE", A.CLAHE(clip_limit=(1.0, 3.0), tile_grid_size=(8, 8), p=1.0)),
        ("RandomGamma", A.RandomGamma(gamma_limit=(80, 120), p=1.0)),
        (
            "RandomBrightnessContrast",
            A.RandomBrightnessContrast(brightness_limit=0.15, contrast_limit=0.15, p=1.0),
        ),
        ("GaussianBlur", A.GaussianBlur(blur_limit=0, sigma_limit=s.blur_sigma, p=1.0)),
        ("DiskDefocus", DiskDefocus(radius=s.defocus_radius, p=1.0)),
        ("MotionBlur", A.MotionBlur(blur_limit=s.motion_limit, p=1.0)),
        # one noise value per pixel for all channels: 6x cheaper than per channel
        ("GaussNoise", A.GaussNoise(std_range=s.noise_std, per_channel=False, p=1.0)),
        (
            "CoarseDropout",
            A.CoarseDropout(
                num_holes_range=s.dropout_holes,
                hole_height_range=(0.05, 0.15),
                hole_width_range=(0.05, 0.15),
                fill=0,
                fill_mask=fill_mask,
                p=1.0,
            ),
        ),
    ]


def _with_p(t: A.BasicTransform, p: float) -> A.BasicTransform:
    t.p = p
    return t


def _medical_body(s: _Strength, dropout_mask: str) -> list[A.BasicTransform]:
    parts = dict(medical_transforms("medical" if s is _MEDICAL else "strong", dropout_mask))
    # The individual transforms have p=1; inside OneOf their p is a relative weight.
    return [
        A.OneOf([parts["ElasticTransform"], parts["GridDistortion"]], p=s.p_deform),
        A.OneOf(
            [_with_p(parts["PapStainJitter"], 0.75), _with_p(parts["HueSaturationValue"], 0.25)],
            p=s.p_colour,
        ),
        A.OneOf(
            [parts["CLAHE"], parts["RandomGamma"], parts["RandomBrightnessContrast"]],
            p=s.p_contrast,
        ),
        A.OneOf([parts["GaussianBlur"], parts["DiskDefocus"], parts["MotionBlur"]], p=s.p_blur),
        _with_p(parts["GaussNoise"], s.p_noise),
        _with_p(parts["CoarseDropout"], s.p_dropout),
    ]


def get_policy(
    name: str,
    image_size: int | None = None,
    seed: int | None = None,
    dropout_mask: Literal["ignore", "keep"] = "ignore",
) -> A.Compose:
    """Build the augmentation policy ``name`` as an albumentations Compose.

    Parameters
    ----------
    name : str
        One of :data:`POLICIES`: ``"none"``, ``"basic"``, ``"medical"``, ``"strong"``.
    image_size : int or None
        ``None`` keeps the input size (a non-square input may come out
        transposed by the 90-degree rotations: batch square inputs). An int makes every output
        (image_size, image_size): inputs are padded (mask padding = IGNORE_INDEX)
        and then centre-cropped (``none``), randomly cropped (``basic``,
        ``medical``) or random-resized-cropped with scale (0.35, 1) (``strong``).
    seed : int or None
        Seed of the Compose's own RNG; the same seed gives the same sequence
        of augmentations (see :func:`worker_init_fn` for DataLoader workers).
    dropout_mask : {"ignore", "keep"}
        Mask value in CoarseDropout holes: IGNORE_INDEX (default, see the
        module docstring) or the original labels.

    Returns
    -------
    albumentations.Compose
        Call as ``policy(image=image, mask=mask)`` with image (H, W, 3) uint8 and
        mask (H, W) uint8; returns a dict with the same keys and dtypes.
    """
    if name not in POLICIES:
        raise ValueError(f"unknown augmentation policy {name!r}; valid policies: {POLICIES}")
    if name == "none":
        transforms = _size_stage(image_size, random=False, scale_jitter=None)
    elif name == "basic":
        transforms = _size_stage(image_size, random=True, scale_jitter=None) + _geometry(
            _MEDICAL, wide_scale=False
        )
    elif name == "medical":
        transforms = (
            _size_stage(image_size, random=True, scale_jitter=None)
            + _geometry(_MEDICAL, wide_scale=False)
            + _medical_body(_MEDICAL, dropout_mask)
        )
    else:  # strong
        transforms = (
            _size_stage(image_size, random=True, scale_jitter=(0.35, 1.0))
            + _geometry(_STRONG, wide_scale=image_size is None)
            + _medical_body(_STRONG, dropout_mask)
        )
    return A.Compose(transforms, seed=seed, mask_interpolation=cv2.INTER_NEAREST)


def reseed_dataset(dataset, seed: int) -> bool:
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
    import random

    import torch.utils.data

    info = torch.utils.data.get_worker_info()
    if info is None:
        return
    seed = int(info.seed % 2**32)
    np.random.seed(seed)  # noqa: NPY002 - libraries still use the global RNG
    random.seed(seed)
    if not reseed_dataset(info.dataset, seed):
        logger.debug("worker_init_fn: the dataset has no reseed() and no albumentations transform")


def time_policy(
    policy: Callable[..., dict], image: np.ndarray, mask: np.ndarray, n: int = 50
) -> dict[str, float]:
    """Median and 90th-percentile time (ms) of ``policy`` on one pair over ``n`` calls."""
    import time

    policy(image=image, mask=mask)  # warm-up
    times = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        policy(image=image, mask=mask)
        times[i] = time.perf_counter() - t0
    return {
        "median_ms": float(np.median(times) * 1e3),
        "p90_ms": float(np.percentile(times, 90) * 1e3),
    }


def _iter_leaves(
    transforms: list[A.BasicTransform], p_parent: float = 1.0, group: str = ""
) -> list[tuple[str, A.BasicTransform, float]]:
    rows = []
    for t in transforms:
        if isinstance(t, A.OneOf):
            weights = np.array([c.p for c in t.transforms], dtype=float)
            weights = weights / weights.sum()
            names = " | ".join(type(c).__name__ for c in t.transforms)
            for child, w in zip(t.transforms, weights, strict=True):
                rows.append((f"OneOf({names})", child, p_parent * t.p * w))
        elif isinstance(t, A.BaseCompose):
            rows.extend(_iter_leaves(list(t.transforms), p_parent * t.p, group))
        else:
            rows.append((group, t, p_parent * t.p))
    return rows


_SKIP_ARGS = {"p", "interpolation", "mask_interpolation", "border_mode", "always_apply", "strict"}


_SHOW_FILL = {"CoarseDropout", "PadIfNeeded"}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict) and set(value) == {"x", "y"} and value["x"] == value["y"]:
        return _fmt(value["x"])
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value)


def _changed_args(t: A.BasicTransform) -> dict[str, Any]:
    """Init arguments of ``t`` that differ from the class defaults."""
    import inspect

    defaults = {
        k: v.default
        for k, v in inspect.signature(type(t).__init__).parameters.items()
        if v.default is not inspect.Parameter.empty
    }
    out = {}
    for k, v in t.get_transform_init_args().items():
        if k in _SKIP_ARGS or k.startswith("keypoint"):
            continue
        if k in ("fill", "fill_mask", "padding") and type(t).__name__ not in _SHOW_FILL:
            continue
        if k in defaults and _fmt(v) == _fmt(defaults[k]) and k != "fill_mask":
            continue
        out[k] = v
    return out


def describe_policy(name: str, image_size: int | None = None) -> pd.DataFrame:
    """Table of the transforms in policy ``name``.

    Returns
    -------
    pandas.DataFrame
        One row per transform with columns ``transform``, ``group`` (the
        ``OneOf`` it belongs to, or empty), ``probability`` (chance it is
        applied to a given image, OneOf weights included), ``parameters`` and
        ``why`` (what it models in cytology).
    """
    policy = get_policy(name, image_size=image_size)
    rows = []
    for group, t, prob in _iter_leaves(list(policy.transforms)):
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in _changed_args(t).items())
        tname = type(t).__name__
        rows.append(
            {
                "transform": tname,
                "group": group,
                "probability": round(float(prob), 3),
                "parameters": params,
                "why": WHY.get(tname, ""),
            }
        )
    return pd.DataFrame(rows, columns=["transform", "group", "probability", "parameters", "why"])


def apply_policy(
    policy: Callable[..., dict], image: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``policy`` to one pair, checking types.

    ``image`` (H, W, 3) uint8 and ``mask`` (H, W) uint8 in, the augmented pair
    out (same dtypes; the size may change if the policy crops).
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image {image.shape[:2]}")
    out = policy(image=image, mask=np.ascontiguousarray(mask, dtype=np.uint8))
    return out["image"], out["mask"]
