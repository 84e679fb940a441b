"""The four augmentation policies, ``none`` < ``basic`` < ``medical`` < ``strong``, as Composes."""

from __future__ import annotations

from typing import Literal

import albumentations as A
import cv2

from papseg_utils.augment.strengths import MEDICAL, STRONG, Strength
from papseg_utils.augment.transforms import BORDER, medical_transforms
from papseg_utils.labels import IGNORE_INDEX

POLICIES: list[str] = ["none", "basic", "medical", "strong"]
"""Valid policy names, from weakest to strongest."""


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


def _geometry(s: Strength, wide_scale: bool) -> list[A.BasicTransform]:
    """The dihedral group and an Affine (``medical``'s scale range unless ``wide_scale``)."""
    scale = s.affine_scale if wide_scale else MEDICAL.affine_scale
    return [
        A.SquareSymmetry(p=1.0),
        A.Affine(
            scale=scale,
            rotate=(-s.affine_rotate, s.affine_rotate),
            translate_percent=(-0.05, 0.05),
            interpolation=cv2.INTER_LINEAR,
            mask_interpolation=cv2.INTER_NEAREST,
            border_mode=BORDER,
            p=s.p_affine,
        ),
    ]


def _with_p(t: A.BasicTransform, p: float) -> A.BasicTransform:
    """``t`` with its probability (or, inside ``OneOf``, its weight) set to ``p``."""
    t.p = p
    return t


def _medical_body(s: Strength, dropout_mask: str) -> list[A.BasicTransform]:
    """What ``medical`` and ``strong`` add to ``basic``, with the probabilities of ``s``."""
    parts = dict(medical_transforms("medical" if s is MEDICAL else "strong", dropout_mask))
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
        of augmentations (see :func:`papseg_utils.train.seeding.worker_init_fn` for
        DataLoader workers).
    dropout_mask : {"ignore", "keep"}
        Mask value in CoarseDropout holes: IGNORE_INDEX (default, see the
        :mod:`papseg_utils.augment` docstring) or the original labels.

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
            MEDICAL, wide_scale=False
        )
    elif name == "medical":
        transforms = (
            _size_stage(image_size, random=True, scale_jitter=None)
            + _geometry(MEDICAL, wide_scale=False)
            + _medical_body(MEDICAL, dropout_mask)
        )
    else:  # strong
        transforms = (
            _size_stage(image_size, random=True, scale_jitter=(0.35, 1.0))
            + _geometry(STRONG, wide_scale=image_size is None)
            + _medical_body(STRONG, dropout_mask)
        )
    return A.Compose(transforms, seed=seed, mask_interpolation=cv2.INTER_NEAREST)
