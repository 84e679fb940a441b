"""Reading images and masks with errors that name the file and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from papseg_utils.data.errors import DataFormatError

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _open(path: str | Path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file. Check the path (and its letter case).")
    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataFormatError(
            f"{path}: cannot decode the image ({err}). The file is corrupt or not an image; "
            "re-export or re-download it, or remove it from the folder."
        ) from err
    return img


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB.

    Returns
    -------
    np.ndarray
        (H, W, 3) uint8 RGB. Gray, palette and RGBA images are converted
        (alpha is dropped); 16-bit images are scaled to 8 bits.
    """
    img = _open(path)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max() if arr.size and arr.max() > 0 else 1.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
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
        return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))
    if img.mode in ("1",):
        return np.asarray(img, dtype=np.uint8)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img)
        if arr.max() > 255:
            raise DataFormatError(
                f"{path}: label values up to {arr.max()} do not fit in uint8 (0-255)."
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
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if img.mode in ("P", "L"):
        idx = np.asarray(img, dtype=np.uint8)
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
