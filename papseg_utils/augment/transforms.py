"""The individual transforms of the ``medical`` and ``strong`` policies, one at a time.

:func:`medical_transforms` lists them in the order the policies use them, each with
``p=1``: geometry and deformations, then colour and contrast, then focus, noise and
occluders. The policies (:mod:`papseg_utils.augment.policies`) group them into
``OneOf`` blocks and give them their probabilities.
"""

from __future__ import annotations

from typing import Literal

import albumentations as A
import cv2

from papseg_utils.augment.defocus import DiskDefocus
from papseg_utils.augment.stain import PapStainJitter
from papseg_utils.augment.strengths import MEDICAL, STRONG, Strength
from papseg_utils.labels import IGNORE_INDEX

BORDER = cv2.BORDER_REFLECT_101
"""Border mode of every warp: reflect, so that no invented pixels (and labels) appear."""

Named = list[tuple[str, A.BasicTransform]]


def medical_transforms(
    strength: Literal["medical", "strong"] = "medical",
    dropout_mask: Literal["ignore", "keep"] = "ignore",
) -> Named:
    """The individual non-geometric-symmetry transforms of a policy, each with ``p=1``.

    Returns a list of ``(name, transform)`` used by tests, the benchmark and the
    augmentation chapter to study one transform at a time. Each transform takes
    ``image`` (H, W, 3) uint8 and ``mask`` (H, W) uint8 and returns the same types.
    """
    s = MEDICAL if strength == "medical" else STRONG
    fill_mask = IGNORE_INDEX if dropout_mask == "ignore" else None
    if dropout_mask not in ("ignore", "keep"):
        raise ValueError(f"dropout_mask={dropout_mask!r}; use 'ignore' or 'keep'")
    return _geometric_transforms(s) + _colour_transforms(s) + _optical_transforms(s, fill_mask)


def _geometric_transforms(s: Strength) -> Named:
    """Symmetries, affine warps and the soft deformations of cell shapes."""
    return [
        ("SquareSymmetry", A.SquareSymmetry(p=1.0)),
        (
            "Affine",
            A.Affine(
                scale=s.affine_scale,
                rotate=(-s.affine_rotate, s.affine_rotate),
                translate_percent=(-0.05, 0.05),
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=BORDER,
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
                border_mode=BORDER,
                p=1.0,
            ),
        ),
        (
            "GridDistortion",
            A.GridDistortion(
                num_steps=5,
                distort_limit=(-s.grid_limit, s.grid_limit),
                mask_interpolation=cv2.INTER_NEAREST,
                border_mode=BORDER,
                p=1.0,
            ),
        ),
    ]


def _colour_transforms(s: Strength) -> Named:
    """Stain and colour variation, then contrast and exposure (image only)."""
    return [
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
    ]


def _optical_transforms(s: Strength, fill_mask: int | None) -> Named:
    """Focus (blur, defocus, motion), scanner noise and occluders (``fill_mask`` in the holes)."""
    return [
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
