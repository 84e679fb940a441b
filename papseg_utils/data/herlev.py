"""Herlev / smear2005 loader (single-cell images with cytoplasm and nucleus masks).

Layout, as in the original distribution (any parent folder)::

    <root>/New database pictures/<class>/<id>.BMP      24-bit RGB cell image
    <root>/New database pictures/<class>/<id>-d.bmp    8-bit palette mask

``root`` may also be the ``New database pictures`` folder itself.

Mask decoding
-------------
Palette masks are decoded by **index**: every index a mask uses must be the
file's own palette slot of a Herlev colour (the first index holding that
colour, as in the table below), so a mask with a reordered palette still
decodes, while a pixel on an unused slot (e.g. index 200, whose padding colour
happens to be black) raises :class:`UnknownLabelError` naming the file and
the indices. Masks re-saved as RGB are decoded by colour; a colour outside
the table raises the same error. With ``on_error="skip"`` such files land in
the skip report instead.

=========  ===============  ============================  =========================
index      colour           meaning                       ``herlev3`` label
=========  ===============  ============================  =========================
4          red (255,0,0)    background                    background
3          (0,0,128)        cytoplasm                     cytoplasm
2          (0,0,255)        nucleus                       nucleus
1          gray (128,...)   undocumented border zone      background or ignore (``gray``)
0          black            rare, undocumented            cytoplasm (Martin 2003)
=========  ===============  ============================  =========================

Black is read as cytoplasm following Martin (2003) and the work that follows
it; gray is background by default (``gray="background"``, also Martin's
convention) or ``IGNORE_INDEX`` with ``gray="ignore"`` (skipped by losses and
metrics).

Cell-level schemes: ``paper_cells`` labels a normal_* cell ``healthy`` and a
dysplastic or carcinoma in situ cell ``unhealthy`` (nucleus and cytoplasm
alike); ``herlev5`` splits cytoplasm and nucleus by health.

The loader only reads: nothing is ever written into ``root``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from papseg_utils.data.base import Sample
from papseg_utils.data.errors import (
    DataFormatError,
    DataLayoutError,
    DatasetNotFoundError,
    MissingMaskError,
    SizeMismatchError,
    UnknownLabelError,
)
from papseg_utils.data.io import read_image, read_palette, read_palette_mask
from papseg_utils.labels import IGNORE_INDEX, get_scheme

log = logging.getLogger(__name__)

ENV_VAR = "PAPSEG_HERLEV_DIR"
SUBDIR = "New database pictures"

HEALTHY_CLASSES: tuple[str, ...] = ("normal_superficiel", "normal_intermediate", "normal_columnar")
UNHEALTHY_CLASSES: tuple[str, ...] = (
    "light_dysplastic",
    "moderate_dysplastic",
    "severe_dysplastic",
    "carcinoma_in_situ",
)
CLASSES: tuple[str, ...] = HEALTHY_CLASSES + UNHEALTHY_CLASSES

EXPECTED_COUNTS: dict[str, int] = {
    "normal_superficiel": 74,
    "normal_intermediate": 70,
    "normal_columnar": 98,
    "light_dysplastic": 182,
    "moderate_dysplastic": 146,
    "severe_dysplastic": 197,
    "carcinoma_in_situ": 150,
}
"""Images per class in the full smear2005 release (917 in all; Jantzen et al. 2005)."""

# colour -> region code: 0 background, 1 cytoplasm, 2 nucleus, 3 gray border
_COLOURS: dict[tuple[int, int, int], int] = {
    (255, 0, 0): 0,
    (0, 0, 128): 1,
    (0, 0, 255): 2,
    (128, 128, 128): 3,
    (0, 0, 0): 1,  # black -> cytoplasm (Martin 2003)
}

GrayPolicy = Literal["background", "ignore"]


def default_root() -> Path:
    """``$PAPSEG_HERLEV_DIR`` if set, else ``<repo root>/../shared/data/herlev``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "herlev"


def find_pictures_dir(root: str | Path | None = None) -> Path:
    """Return the folder holding the seven class folders, or raise with instructions."""
    root = Path(root).expanduser() if root else default_root()
    if not root.exists():
        raise DatasetNotFoundError(
            f"Herlev data not found at {root}. With network access: papseg data herlev "
            "--download /path/to/herlev. By hand: download smear2005.zip (MDE-Lab, University "
            "of the Aegean, 'PAP-SMEAR (DTU/HERLEV) DATABASES', part II), unzip it, and pass its "
            f"folder as root= or set {ENV_VAR}=/path/to/herlev (the folder holding "
            f"'{SUBDIR}')."
        )
    for cand in (root / SUBDIR, root):
        if cand.is_dir() and any((cand / c).is_dir() for c in CLASSES):
            return cand
    found = sorted(p.name for p in root.iterdir())[:10] if root.is_dir() else []
    raise DataLayoutError(
        f"{root}: not a Herlev folder. Expected '{SUBDIR}/<class>/<id>.BMP' with class folders "
        f"{list(CLASSES)}; found {found}. Point root at the folder that holds '{SUBDIR}'."
    )


def is_herlev_folder(root: str | Path | None = None) -> bool:
    """True if ``root`` (default: :func:`default_root`) holds Herlev's class folders.

    The quiet form of :func:`find_pictures_dir`, for deciding whether to use
    Herlev: a missing folder or one of another layout gives False.
    """
    try:
        find_pictures_dir(root)
    except (DatasetNotFoundError, DataLayoutError):
        return False
    return True


def decode_mask(
    indices: np.ndarray, rgb: np.ndarray, path: str | Path, palette: list[int] | None = None
) -> np.ndarray:
    """Decode a Herlev mask to region codes (0 bg, 1 cytoplasm, 2 nucleus, 3 gray).

    Parameters
    ----------
    indices : (H, W) uint8 palette indices.
    rgb : (H, W, 3) uint8 displayed colours.
    path : the mask file, named in errors.
    palette : the file's flat palette ``[r, g, b, ...]`` for a palette image;
        then decoding is by index (see the module docstring). ``None``: by colour.

    Returns
    -------
    np.ndarray
        (H, W) uint8 region codes.
    """
    if palette is not None:
        return _decode_indices(np.asarray(indices, dtype=np.uint8), palette, path)
    key = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    lut_keys = np.array([(r << 16) | (g << 8) | b for r, g, b in _COLOURS], dtype=np.uint32)
    lut_vals = np.array(list(_COLOURS.values()), dtype=np.uint8)
    order = np.argsort(lut_keys)
    lut_keys, lut_vals = lut_keys[order], lut_vals[order]
    pos = np.clip(np.searchsorted(lut_keys, key), 0, len(lut_keys) - 1)
    ok = lut_keys[pos] == key
    if not ok.all():
        bad = np.unique(key[~ok])[:5]
        cols = [((int(k) >> 16) & 255, (int(k) >> 8) & 255, int(k) & 255) for k in bad]
        raise UnknownLabelError(
            f"{path}: {int((~ok).sum())} pixels have colours {cols} that are not Herlev mask "
            f"colours {list(_COLOURS)}. Is this a Herlev '-d.bmp' mask? Re-extract the original "
            "file, or load with on_error='skip' to skip it."
        )
    return lut_vals[pos]


def _decode_indices(indices: np.ndarray, palette: list[int], path: str | Path) -> np.ndarray:
    """Region codes of a palette mask, by index; unknown indices raise naming the file."""
    slots = [tuple(palette[i : i + 3]) for i in range(0, len(palette) - 2, 3)]
    first: dict[tuple[int, ...], int] = {}
    for i, colour in enumerate(slots):
        first.setdefault(colour, i)
    table = np.full(256, 255, np.uint8)  # 255: not a Herlev index
    for i, colour in enumerate(slots[:256]):
        if colour in _COLOURS and first[colour] == i:
            table[i] = _COLOURS[colour]
    regions = table[indices]
    unknown = regions == 255
    if unknown.any():
        bad = sorted(int(i) for i in np.unique(indices[unknown]))
        shown = {i: slots[i] if i < len(slots) else None for i in bad[:5]}
        n = int(unknown.sum())
        raise UnknownLabelError(
            f"{path}: {n} pixel{'s' if n != 1 else ''} on palette indices {bad[:10]} (colours "
            f"{shown}), which are not Herlev mask indices (the file's slots for "
            f"{list(_COLOURS)}). Is this a Herlev '-d.bmp' mask? Re-extract the original "
            "file, or load with on_error='skip' to skip it."
        )
    return regions


def regions_to_scheme(
    regions: np.ndarray, diagnosis: str, scheme: str = "herlev3", gray: GrayPolicy = "background"
) -> np.ndarray:
    """Map region codes (0 bg, 1 cyto, 2 nucleus, 3 gray) to a (H, W) uint8 mask of ``scheme``."""
    if gray not in ("background", "ignore"):
        raise ValueError(f"gray={gray!r}: use 'background' (Martin 2003) or 'ignore'")
    name = get_scheme(scheme).name
    healthy = diagnosis in HEALTHY_CLASSES
    if name == "herlev3":
        table = [0, 1, 2]
    elif name == "paper_cells":
        table = [0, 1, 1] if healthy else [0, 2, 2]
    elif name == "herlev5":
        table = [0, 1, 2] if healthy else [0, 3, 4]
    else:
        raise ValueError(
            f"scheme {scheme!r} cannot be built from Herlev masks; use 'herlev3', 'paper_cells' "
            "or 'herlev5'"
        )
    lut = np.array(table + [0 if gray == "background" else IGNORE_INDEX], dtype=np.uint8)
    return lut[regions]


@dataclass
class LoadReport:
    """What a load did: files loaded and files skipped, each with its reason."""

    loaded: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"loaded {self.loaded}, skipped {len(self.skipped)}"]
        lines += [f"  {p}: {why}" for p, why in self.skipped]
        return "\n".join(lines)


def list_herlev(root: str | Path | None = None) -> list[tuple[str, Path, Path | None]]:
    """List (class, image path, mask path or None) for every image, sorted by class and name."""
    pics = find_pictures_dir(root)
    items = []
    for cls in CLASSES:
        folder = pics / cls
        if not folder.is_dir():
            log.warning("Herlev: class folder %s is missing", folder)
            continue
        files = {p.name: p for p in folder.iterdir() if p.is_file()}
        for fname in sorted(files):
            stem, ext = os.path.splitext(fname)
            if ext.lower() != ".bmp" or stem.endswith("-d"):
                continue
            mask = None
            for cand in (f"{stem}-d.bmp", f"{stem}-d.BMP"):
                if cand in files:
                    mask = files[cand]
                    break
            items.append((cls, files[fname], mask))
    return items


def list_image_sizes(root: str | Path | None = None) -> list[dict]:
    """Width and height (px) of every Herlev image, read from the file headers only.

    Returns one dict per image, ``{"name", "group", "width", "height"}``, in
    :func:`list_herlev` order; nothing is decoded, so all 917 take a second.
    """
    from PIL import Image

    rows = []
    for cls, image_path, _ in list_herlev(root):
        with Image.open(image_path) as im:
            width, height = im.size
        rows.append(
            {"name": f"{cls}/{image_path.stem}", "group": cls, "width": width, "height": height}
        )
    return rows


def load_herlev(
    root: str | Path | None = None,
    scheme: str = "herlev3",
    gray: GrayPolicy = "background",
    classes: list[str] | tuple[str, ...] | None = None,
    limit: int | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    report: LoadReport | None = None,
) -> list[Sample]:
    """Load Herlev images and masks.

    Parameters
    ----------
    root : path, optional
        Folder holding ``New database pictures`` (or that folder itself);
        default: ``$PAPSEG_HERLEV_DIR``, else ``../shared/data/herlev``.
    scheme : str
        ``"herlev3"`` (background/cytoplasm/nucleus), ``"paper_cells"`` or ``"herlev5"``.
    gray : "background" | "ignore"
        What the gray border zone becomes (see the module docstring).
    classes : list of str, optional
        Load only these diagnostic classes.
    limit : int, optional
        At most this many images per class (the first by name), for quick runs.
    on_error : "raise" | "skip"
        Raise at the first bad file, or skip it and record it in ``report``
        (each skip is also logged as a warning).
    report : LoadReport, optional
        Filled with counts and skipped files.

    Returns
    -------
    list[Sample]
        ``image`` (H, W, 3) uint8, ``mask`` (H, W) uint8, ``name`` =
        ``"<class>/<id>"``, ``group`` = the class folder name, ``path`` = the image file.
    """
    _check_options(scheme, gray, classes, on_error)
    report = report if report is not None else LoadReport()
    samples: list[Sample] = []
    per_class: dict[str, int] = {}
    for cls, img_path, mask_path in list_herlev(root):
        if classes is not None and cls not in classes:
            continue
        if limit is not None and per_class.get(cls, 0) >= limit:
            continue
        try:
            image, regions = _read_pair(img_path, mask_path)
        except DataFormatError as err:
            if on_error == "raise":
                raise
            report.skipped.append((str(img_path), str(err)))
            log.warning("skipping %s: %s", img_path, err)
            continue
        mask = regions_to_scheme(regions, cls, scheme, gray)
        samples.append(
            Sample(image, mask, name=f"{cls}/{img_path.stem}", group=cls, path=str(img_path))
        )
        per_class[cls] = per_class.get(cls, 0) + 1
    report.loaded = len(samples)
    if not samples and not report.skipped:
        raise DataLayoutError(
            f"{find_pictures_dir(root)}: no '<id>.BMP' images found in the class folders."
        )
    return samples


def _check_options(scheme: str, gray: GrayPolicy, classes, on_error: str) -> None:
    """``ValueError`` for an unknown ``on_error``, diagnostic class, scheme or gray policy."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error={on_error!r}: use 'raise' or 'skip'")
    if classes is not None:
        unknown = sorted(set(classes) - set(CLASSES))
        if unknown:
            raise ValueError(f"unknown Herlev classes {unknown}; valid: {list(CLASSES)}")
    regions_to_scheme(np.zeros((1, 1), np.uint8), CLASSES[0], scheme, gray)  # validate early


def _read_pair(img_path: Path, mask_path: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """The (H, W, 3) uint8 image and its (H, W) region mask (:func:`decode_mask`).

    ``MissingMaskError`` or ``SizeMismatchError`` naming the file and the fix, or the
    ``DataFormatError`` of a file that cannot be read.
    """
    if mask_path is None:
        raise MissingMaskError(
            f"{img_path}: no mask '{img_path.stem}-d.bmp' beside it. Restore the mask from "
            "the original smear2005.zip, or remove the image (or use on_error='skip')."
        )
    image = read_image(img_path)
    idx, rgb = read_palette_mask(mask_path)
    if idx.shape != image.shape[:2]:
        raise SizeMismatchError(
            f"{mask_path}: mask is {idx.shape[1]}x{idx.shape[0]} px but image {img_path.name} "
            f"is {image.shape[1]}x{image.shape[0]} px. Re-extract both files from the "
            "original archive."
        )
    return image, decode_mask(idx, rgb, mask_path, palette=read_palette(mask_path))


def count_herlev(root: str | Path | None = None) -> dict[str, int]:
    """Images per class found under ``root`` (without decoding anything)."""
    counts = dict.fromkeys(CLASSES, 0)
    for cls, _img, _mask in list_herlev(root):
        counts[cls] += 1
    return counts
