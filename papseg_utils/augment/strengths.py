"""How strongly the ``medical`` and ``strong`` policies augment: probabilities and magnitudes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Strength:
    """Magnitudes and probabilities that differ between ``medical`` and ``strong``.

    ``p_*`` are probabilities in [0, 1]; ranges are (low, high) tuples; magnitudes are in the
    units of the albumentations argument they feed (degrees, px, OpenCV hue units).
    """

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


MEDICAL = Strength(
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
"""The ``medical`` policy: what differs between labs, scanners and slides, mildly."""

STRONG = Strength(
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
"""The ``strong`` policy: ``medical`` with higher probabilities and magnitudes."""
