"""APACS23: 2000x2000 Pap smear fields with binary cell masks (lazy loader).

Harangi et al., "APACS23: a Pap smear dataset with cell segmentation masks",
Scientific Data 2024, doi 10.1038/s41597-024-03566-9. Data on OSF, node
``cka2f`` (https://osf.io/cka2f/), licence CC BY 4.0. Download it yourself and
pass its folder as ``root``; nothing is downloaded here.

Expected layout under ``root``::

    training/APACS23_Training_Input/<stem>.jpg
    training/APACS23_Training_GroundTruth/<stem>.png
    test/APACS23_Test_Input/<stem>.jpg
    test/APACS23_Test_GroundTruth/<stem>.png

Images are 2000x2000 RGB JPEGs; masks are binary PNGs (cell white, background
black; the stored values are undocumented, so any value > 0 is a cell).
Files are paired **by stem**, never by directory listing order (the official
code pairs by order, which mismatches pairs when files are unpaired). Unpaired
files are reported in a :class:`PairingReport` and logged as a warning.

Nothing is decoded when indexing: :func:`index_apacs23` returns paths only, and
:meth:`APACS23Index.load` decodes one field (16 MB as RGB + mask at full size).
Use :mod:`papseg_utils.data.crops` to train on random crops of the fields.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from papseg_utils.data.base import Sample
from papseg_utils.data.errors import DataLayoutError, DatasetNotFoundError, SizeMismatchError
from papseg_utils.data.io import read_image, read_label_mask
from papseg_utils.labels import get_scheme

logger = logging.getLogger(__name__)

CITATION = (
    "B. Harangi et al., APACS23: a Pap smear dataset with cell segmentation masks, "
    "Scientific Data 11 (2024), doi 10.1038/s41597-024-03566-9"
)
SOURCE = "OSF node cka2f (https://osf.io/cka2f/)"
LICENCE = "CC BY 4.0"

SPLITS: dict[str, tuple[str, str]] = {
    "training": ("training/APACS23_Training_Input", "training/APACS23_Training_GroundTruth"),
    "test": ("test/APACS23_Test_Input", "test/APACS23_Test_GroundTruth"),
}
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png")
MASK_SUFFIXES: tuple[str, ...] = (".png",)

CELLS = get_scheme("cells")
"""Binary scheme of APACS23 masks (from :mod:`papseg_utils.labels`)."""

LAYOUT_HELP = (
    "Expected layout: <root>/training/APACS23_Training_Input/*.jpg with "
    "<root>/training/APACS23_Training_GroundTruth/<stem>.png, and "
    "<root>/test/APACS23_Test_Input/*.jpg with <root>/test/APACS23_Test_GroundTruth/<stem>.png. "
    f"Get APACS23 from {SOURCE} ({LICENCE}; cite {CITATION}) and pass the folder that "
    "contains 'training' and 'test' as root."
)


@dataclass(frozen=True)
class FieldItem:
    """Paths of one large field and its mask (nothing decoded).

    Attributes
    ----------
    image_path : str
        RGB image file.
    mask_path : str | None
        Label/binary mask file, or ``None`` when the field has no mask.
    name : str
        Unique name, ``"<split>/<stem>"``.
    group : str
        Stratification key (here the official split).
    """

    image_path: str
    mask_path: str | None
    name: str
    group: str


@dataclass
class PairingReport:
    """Files that could not be paired by stem (paths relative to the root)."""

    unpaired_images: list[str] = field(default_factory=list)
    unpaired_masks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every image has a mask and every mask an image."""
        return not self.unpaired_images and not self.unpaired_masks

    def __str__(self) -> str:
        return (
            f"{len(self.unpaired_images)} image(s) without a mask "
            f"{self.unpaired_images[:5]}{'...' if len(self.unpaired_images) > 5 else ''}, "
            f"{len(self.unpaired_masks)} mask(s) without an image "
            f"{self.unpaired_masks[:5]}{'...' if len(self.unpaired_masks) > 5 else ''}"
        )


def _files_by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."):
            if p.stem in out:
                raise DataLayoutError(
                    f"{folder}: two files share the stem {p.stem!r} ({out[p.stem].name}, {p.name}); "
                    "keep one of them so that images and masks pair unambiguously."
                )
            out[p.stem] = p
    return out


def pair_by_stem(
    image_dir: str | Path,
    mask_dir: str | Path,
    image_suffixes: tuple[str, ...] = IMAGE_SUFFIXES,
    mask_suffixes: tuple[str, ...] = MASK_SUFFIXES,
    relative_to: str | Path | None = None,
) -> tuple[list[tuple[Path, Path]], PairingReport]:
    """Pair image and mask files by file stem.

    Returns
    -------
    pairs : list of (image_path, mask_path)
        Sorted by stem.
    report : PairingReport
        Unpaired files (paths relative to ``relative_to`` when given).
    """
    images = _files_by_stem(Path(image_dir), image_suffixes)
    masks = _files_by_stem(Path(mask_dir), mask_suffixes)
    base = Path(relative_to) if relative_to is not None else None

    def rel(p: Path) -> str:
        return str(p.relative_to(base)) if base is not None else str(p)

    pairs = [(images[s], masks[s]) for s in sorted(images.keys() & masks.keys())]
    report = PairingReport(
        unpaired_images=[rel(images[s]) for s in sorted(images.keys() - masks.keys())],
        unpaired_masks=[rel(masks[s]) for s in sorted(masks.keys() - images.keys())],
    )
    return pairs, report


@dataclass
class FieldIndex:
    """A lazy, sequence-like index of paired large fields: paths only, no pixels.

    Shared by the APACS23 and APACC indexes; ``index[i]`` is a :class:`FieldItem`.
    """

    root: str
    items: list[FieldItem]
    report: PairingReport

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> FieldItem:
        return self.items[i]

    def __iter__(self) -> Iterator[FieldItem]:
        return iter(self.items)


@dataclass
class APACS23Index(FieldIndex):
    """Lazy index of APACS23 fields: paths only until :meth:`load`.

    Attributes
    ----------
    root : str
        Dataset root.
    items : list[FieldItem]
        Paired fields, sorted by split then stem.
    report : PairingReport
        Files left out because they had no partner.
    """

    def load(self, i: int, image_size: int | None = None) -> Sample:
        """Decode field ``i`` as a :class:`Sample` in the :data:`CELLS` scheme."""
        return load_field(self.items[i], image_size=image_size)


def read_binary_mask(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read an APACS23 mask: (H, W) uint8, 1 where the stored value is > 0, else 0.

    RGB masks are accepted (any channel > 0 is a cell). ``shape`` (H, W), when
    given, must match, else :class:`SizeMismatchError` names the file.
    """
    try:
        mask = read_label_mask(path)
    except ValueError:
        mask = read_image(path).max(axis=2)
    binary = (mask > 0).astype(np.uint8)
    if shape is not None and binary.shape != tuple(shape):
        raise SizeMismatchError(
            f"{path}: mask is {binary.shape[1]}x{binary.shape[0]} px but its image is "
            f"{shape[1]}x{shape[0]} px; the pair does not belong together (check the stems)."
        )
    return binary


def load_field(item: FieldItem, image_size: int | None = None) -> Sample:
    """Decode one field: image (H, W, 3) uint8 and binary mask (H, W) uint8 {0, 1}.

    ``image_size`` resizes both to (image_size, image_size) (INTER_AREA for the
    image, nearest for the mask); ``None`` keeps 2000x2000.
    """
    image = read_image(item.image_path)
    if item.mask_path is None:
        raise DataLayoutError(f"{item.image_path}: no mask for this field")
    mask = read_binary_mask(item.mask_path, shape=image.shape[:2])
    if image_size is not None:
        image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (image_size, image_size), interpolation=cv2.INTER_NEAREST)
    return Sample(image=image, mask=mask, name=item.name, group=item.group, path=item.image_path)


def index_apacs23(root: str | Path, split: str = "training") -> APACS23Index:
    """Index APACS23 under ``root`` without decoding anything.

    Parameters
    ----------
    root : path
        Folder containing ``training/`` and/or ``test/`` (see module docstring).
    split : {"training", "test", "all"}
        Which official split to index.

    Raises
    ------
    DatasetNotFoundError
        ``root`` or a split folder is missing; the message gives the layout and
        where to get the data.
    """
    root = Path(root)
    if split not in (*SPLITS, "all"):
        raise ValueError(f"split={split!r}; use one of {[*SPLITS, 'all']}")
    if not root.is_dir():
        raise DatasetNotFoundError(f"APACS23 folder {root} does not exist. {LAYOUT_HELP}")
    names = list(SPLITS) if split == "all" else [split]
    items: list[FieldItem] = []
    report = PairingReport()
    for s in names:
        image_dir, mask_dir = (root / d for d in SPLITS[s])
        for d in (image_dir, mask_dir):
            if not d.is_dir():
                raise DatasetNotFoundError(f"APACS23: missing folder {d}. {LAYOUT_HELP}")
        pairs, rep = pair_by_stem(image_dir, mask_dir, relative_to=root)
        items += [FieldItem(str(i), str(m), f"{s}/{i.stem}", s) for i, m in pairs]
        report.unpaired_images += rep.unpaired_images
        report.unpaired_masks += rep.unpaired_masks
    if not report.ok:
        logger.warning("APACS23 %s: left out unpaired files: %s", root, report)
    if not items:
        raise DataLayoutError(f"APACS23: no image/mask pairs found under {root}. {LAYOUT_HELP}")
    return APACS23Index(root=str(root), items=items, report=report)


def load_apacs23(
    root: str | Path,
    split: str = "training",
    limit: int | None = None,
    image_size: int | None = 512,
) -> list[Sample]:
    """Decode up to ``limit`` APACS23 fields as Samples (binary :data:`CELLS` masks).

    This materialises images in memory; it downsizes to ``image_size`` by
    default to keep that small (2000x2000 fields are 16 MB each). For training
    at full resolution use :func:`index_apacs23` with
    :class:`papseg_utils.data.crops.RandomCropDataset` instead.
    """
    index = index_apacs23(root, split)
    items = index.items if limit is None else index.items[:limit]
    return [load_field(it, image_size=image_size) for it in items]


def count_apacs23(root: str | Path) -> dict[str, int]:
    """Paired fields per official split (for ``registry.validate``)."""
    counts = {}
    for s in SPLITS:
        try:
            counts[s] = len(index_apacs23(root, s))
        except (DatasetNotFoundError, DataLayoutError):
            counts[s] = 0
    return counts


def _load_registered(
    root: str | Path,
    scheme: str | None = "cells",
    split: str = "training",
    limit: int | None = None,
    image_size: int | None = 512,
) -> list[Sample]:
    if scheme not in (None, "cells"):
        raise ValueError(
            f"APACS23 masks are binary (scheme 'cells'); scheme={scheme!r} is not available. "
            "For four-class masks combine them with APACC boxes (papseg_utils.data.paper_masks)."
        )
    return load_apacs23(root, split=split, limit=limit, image_size=image_size)


def _register() -> None:
    from papseg_utils.data.registry import DatasetInfo, register

    register(
        DatasetInfo(
            name="apacs23",
            description="APACS23: 3,565 Pap smear fields of 2000x2000 px with binary cell masks "
            "(cell vs background; no classes). Loaded lazily; train on crops.",
            citation=CITATION,
            licence=LICENCE,
            obtain=f"Download APACS23 from {SOURCE} and unpack it; set PAPSEG_APACS23_DIR.",
            layout=LAYOUT_HELP,
            loader=_load_registered,
            default_scheme="cells",
            env_var="PAPSEG_APACS23_DIR",
            counter=count_apacs23,
        )
    )


_register()
