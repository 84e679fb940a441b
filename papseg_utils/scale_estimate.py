"""``--pixel-size auto``: estimate the pixel size of unlabelled images from a first pass.

Cellpose estimates a cell diameter with a size model and rescales the image to its training
diameter. Here the cue is the same and simpler: a scale-true checkpoint records the median
area (um^2) of the nucleus per training image (``config["spacing"]["reference"]``,
:func:`reference_area`). The images are predicted at an assumed pixel size, the median
predicted nucleus area in px is measured, and the pixel size that makes it match the
reference is taken; a second pass at that pixel size refines it.

Assumptions, stated where the estimate is reported: the images come from one microscope (one
pixel size for all of them), and their mix of cell types is like the training data's. A set of
only superficial cells (small nuclei) is read as a coarser pixel size than it has; one image of
an unusual cell can be off by its own nucleus' deviation from the median.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import numpy as np

from papseg_utils.data.spacing import PIXEL_SIZE_RANGE
from papseg_utils.labels import LabelScheme

log = logging.getLogger(__name__)


def reference_class(scheme: LabelScheme) -> tuple[str, list[int]]:
    """The class whose area measures scale: ``("nucleus", [id])`` or ``("foreground", ids)``."""
    if "nucleus" in scheme.classes:
        return "nucleus", [scheme.classes.index("nucleus")]
    return "foreground", list(range(1, scheme.num_classes))


def reference_area(
    masks: Sequence[np.ndarray], scheme: LabelScheme, pixel_size_um: float
) -> tuple[str, float | None]:
    """(class, median area in um^2 per mask) over the masks that contain that class.

    ``masks`` are (H, W) uint8 class ids at ``pixel_size_um``; None when no mask holds it.
    """
    name, ids = reference_class(scheme)
    areas = [float(np.isin(m, ids).sum()) for m in masks]
    areas = [a for a in areas if a > 0]
    if not areas:
        return name, None
    return name, float(np.median(areas)) * float(pixel_size_um) ** 2


def estimate_pixel_size(
    predict_labels: Callable[[np.ndarray, float], np.ndarray],
    images: Sequence[np.ndarray],
    config: dict,
    scheme: LabelScheme,
    iterations: int = 2,
    max_images: int = 64,
) -> dict:
    """Estimate one pixel size (um/px) for ``images`` from the predicted nucleus areas.

    Parameters
    ----------
    predict_labels : ``f(image (H, W, 3) uint8, pixel_size_um) -> (H, W) labels`` at the
        native grid (the checkpoint's own inference path).
    images : the images (all from one microscope); at most ``max_images`` of them, evenly
        spaced, are used.
    config : the checkpoint's ``config.json``; needs ``spacing.reference.median_area_um2``.
    iterations : passes; each one starts from the previous estimate.

    Returns
    -------
    dict with ``pixel_size_um`` (the estimate), ``start_um`` (the assumed value of the first
    pass: the training images' pixel size), ``passes`` (the estimate after each pass) and
    ``images`` (how many were measured).

    Raises
    ------
    ValueError
        The checkpoint is not scale-true, has no reference area, or no nucleus (reference
        class) was found in any image at any pass.
    """
    spacing = config.get("spacing") or {}
    ref = (spacing.get("reference") or {}).get("median_area_um2")
    if not ref:
        raise ValueError(
            "--pixel-size auto needs a scale-true checkpoint that recorded its training "
            "nucleus area (config.json 'spacing.reference'); give the pixel size in um/px instead"
        )
    _, ids = reference_class(scheme)
    step = max(1, math.ceil(len(images) / max_images))
    chosen = list(images)[::step]
    start = spacing.get("pixel_size_um") or spacing["target_spacing_um"]
    current, passes = float(start), []
    lo, hi = PIXEL_SIZE_RANGE
    for _ in range(max(1, iterations)):
        areas = [float(np.isin(predict_labels(im, current), ids).sum()) for im in chosen]
        areas = [a for a in areas if a > 0]
        if not areas:
            raise ValueError(
                f"--pixel-size auto found no {', '.join(scheme.classes[i] for i in ids)} in "
                f"{len(chosen)} images at {current:g} um/px; give the pixel size in um/px"
            )
        # median area in px at the assumed size a_px; the true size p satisfies a_px p^2 = ref
        current = float(np.clip(math.sqrt(ref / float(np.median(areas))), lo, hi))
        passes.append(current)
    log.info("estimated pixel size %.4g um/px from %d images (passes: %s)", current,
             len(chosen), ", ".join(f"{v:.4g}" for v in passes))  # fmt: skip
    return {"pixel_size_um": current, "start_um": float(start), "passes": passes,
            "images": len(chosen)}  # fmt: skip


def parse_pixel_size(text: str | float | None, option: str = "--pixel-size") -> float | str | None:
    """A ``--pixel-size`` value: None (not given), ``"auto"`` or checked um/px.

    Raises :class:`~papseg_utils.data.spacing.PixelSizeError` naming ``option`` and the fix
    (<= 0, NaN, not a number, or outside 0.01-10 um/px).
    """
    from papseg_utils.data.spacing import PixelSizeError, check_pixel_size

    if text is None:
        return None
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        return check_pixel_size(text, option)
    except PixelSizeError as err:
        raise PixelSizeError(f"{err}; or 'auto' to estimate it from the images") from None


def resolve_pixel_size(
    option: float | str | None,
    config: dict,
    scheme: LabelScheme,
    images: Callable[[], Sequence[np.ndarray]],
    predict_labels: Callable[[np.ndarray, float], np.ndarray],
    known: float | None = None,
) -> dict:
    """The pixel size that ``predict`` / ``evaluate`` resample the images from, and why.

    Parameters
    ----------
    option : the ``--pixel-size`` value: um/px, ``"auto"`` or None (not given).
    config : the (first) checkpoint's ``config.json``.
    images : returns the images (only called for ``"auto"``).
    predict_labels : see :func:`estimate_pixel_size`.
    known : the dataset's own pixel size (Herlev 0.201, a folder's ``classes.yaml``).

    Returns
    -------
    dict with ``pixel_size_um`` (None: letterbox checkpoint, nothing to resample), ``source``
    (``"given"``, ``"auto"``, ``"dataset"``, ``"assumed"`` or ``"letterbox"``) and ``note``
    (a sentence to print once, or None); ``"auto"`` adds the estimate's ``passes``.
    """
    spacing = config.get("spacing") or {}
    if not spacing.get("target_spacing_um"):
        note = None
        if option is not None:
            note = ("this checkpoint letterboxes every image to one size (trained before the "
                    "scale-true recipe), so --pixel-size does not change its input")  # fmt: skip
        return {"pixel_size_um": None, "source": "letterbox", "note": note}
    if option == "auto":
        est = estimate_pixel_size(predict_labels, images(), config, scheme)
        note = (
            f"pixel size estimated from {est['images']} images: {est['pixel_size_um']:.4g} um/px "
            f"(matching the median {scheme_reference(config)} area of the training images; "
            "assumes one microscope and a mix of cells like the training data's)"
        )
        return {"pixel_size_um": est["pixel_size_um"], "source": "auto", "note": note,
                "passes": est["passes"]}  # fmt: skip
    if option is not None:
        return {"pixel_size_um": float(option), "source": "given", "note": None}
    if known is not None:
        return {"pixel_size_um": float(known), "source": "dataset", "note": None}
    assumed = spacing.get("pixel_size_um") or spacing["target_spacing_um"]
    note = (
        f"the pixel size of these images is not known: assuming {assumed:g} um/px, that of the "
        "checkpoint's training images; pass --pixel-size (um/px) or --pixel-size auto"
    )
    return {"pixel_size_um": float(assumed), "source": "assumed", "note": note}


def scheme_reference(config: dict) -> str:
    """The reference class name recorded by a scale-true checkpoint (``nucleus``)."""
    return ((config.get("spacing") or {}).get("reference") or {}).get("class") or "nucleus"
