"""A policy as a table: each transform, its probability, its parameters and why it is there."""

from __future__ import annotations

import inspect
from typing import Any

import albumentations as A
import numpy as np
import pandas as pd

from papseg_utils.augment.policies import get_policy

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


def _iter_leaves(
    transforms: list[A.BasicTransform], p_parent: float = 1.0, group: str = ""
) -> list[tuple[str, A.BasicTransform, float]]:
    """``(group, transform, probability)`` of every leaf transform, ``OneOf`` weights included."""
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
    """``value`` as the table shows it: floats with ``%g``, equal x/y ranges once."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict) and set(value) == {"x", "y"} and value["x"] == value["y"]:
        return _fmt(value["x"])
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_fmt(v) for v in value) + ")"
    return str(value)


def _changed_args(t: A.BasicTransform) -> dict[str, Any]:
    """Init arguments of ``t`` that differ from the class defaults."""
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
