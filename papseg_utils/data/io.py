"""Reading images and masks with errors that name the file and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from papseg_utils.data.errors import DataFormatError

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


MAX_PIXELS = 150_000_000
"""Largest image read (width x height), about 12000 x 12000 px; larger ones are refused."""


def _open(path: str | Path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file. Check the path (and its letter case).")
    try:
        img = Image.open(path)
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise DataFormatError(
                f"{path}: the file declares {w}x{h} px, more than the {MAX_PIXELS:,} px that "
                "papseg reads. Is it corrupt? If not, cut it into tiles or downscale it first."
            )
        img.load()
    except DataFormatError:
        raise
    except Exception as err:  # PIL raises many types for corrupt files (OSError, SyntaxError...)
        raise DataFormatError(
            f"{path}: cannot decode the image ({type(err).__name__}: {err}). The file is corrupt "
            "or not an image; re-export or re-download it, or remove it from the folder."
        ) from err
    return img


def _convert(img: Image.Image, path: str | Path, what: str, fn):
    """Run a pixel conversion; odd modes PIL or NumPy cannot convert become a DataFormatError."""
    try:
        return fn()
    except Exception as err:  # ValueError, TypeError, OSError from PIL/NumPy on odd modes
        raise DataFormatError(
            f"{path}: cannot convert its {img.mode!r} pixels to {what} ({type(err).__name__}: "
            f"{err}); re-save it as an 8-bit RGB image (or a single-channel label PNG for masks)."
        ) from err


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB.

    Returns
    -------
    np.ndarray
        (H, W, 3) uint8 RGB. Gray, palette and RGBA images are converted
        (alpha is dropped); 16-bit images are scaled to 8 bits.
    """
    img = _open(path)
    return _convert(img, path, "RGB", lambda: _to_rgb(img))


def _to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo = min(float(arr.min()), 0.0) if arr.size else 0.0
        hi = float(arr.max()) - lo if arr.size and arr.max() > lo else 1.0
        arr = np.clip((arr - lo) / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def read_label_mask(path: str | Path) -> np.ndarray:
    """Read a single-channel label mask.

    A palette ("P") image yields its palette indices; a gray ("L") image its
    values. RGB masks are refused (they need a colour table: use the loader of
    that dataset, or convert them to label PNGs).

    Returns
    -------
    np.ndarray
        (H, W) uint8 label values.
    """
    img = _open(path)
    if img.mode in ("P", "L"):
        return _convert(
            img, path, "labels", lambda: np.ascontiguousarray(np.asarray(img, np.uint8))
        )
    if img.mode in ("1",):
        return _convert(img, path, "labels", lambda: np.asarray(img, dtype=np.uint8))
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = _convert(img, path, "labels", lambda: np.asarray(img))
        if arr.size and (arr.max() > 255 or arr.min() < 0):
            raise DataFormatError(
                f"{path}: label values {arr.min()}..{arr.max()} do not fit in uint8 (0-255); "
                "save the mask as an 8-bit label PNG whose pixel values are class ids."
            )
        return arr.astype(np.uint8)
    raise DataFormatError(
        f"{path}: mask has mode {img.mode!r}; expected a single-channel label PNG (mode 'L' or "
        "'P') whose pixel values are class ids. Convert colour masks with a colour->id table."
    )


def read_palette_mask(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a palette mask as both indices and the RGB colour of every pixel.

    Returns
    -------
    indices : np.ndarray
        (H, W) uint8 palette indices (or gray values for an 'L' image; all zero for RGB).
    rgb : np.ndarray
        (H, W, 3) uint8 colours as displayed.
    """
    img = _open(path)
    rgb = _convert(img, path, "RGB", lambda: _to_rgb(img))
    if img.mode in ("P", "L"):
        idx = _convert(img, path, "indices", lambda: np.asarray(img, dtype=np.uint8))
    else:
        idx = np.zeros(rgb.shape[:2], dtype=np.uint8)
    return idx, rgb


def read_palette(path: str | Path) -> list[int] | None:
    """The flat palette ``[r, g, b, ...]`` of a palette ("P") image, else None."""
    img = _open(path)
    return img.getpalette() if img.mode == "P" else None


def save_label_mask(mask: np.ndarray, path: str | Path, palette: list[int] | None = None) -> None:
    """Write a (H, W) uint8 label mask as a PNG (palette PNG when ``palette`` is given)."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"{path}: mask must be (H, W) uint8, got {mask.shape} {mask.dtype}")
    mask = np.ascontiguousarray(mask)
    if palette is None:
        img = Image.fromarray(mask)
    else:
        img = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.tobytes())
        img.putpalette(palette)
    img.save(path)
