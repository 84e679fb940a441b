"""APACC slices with YOLO cell boxes (the paper's four classes; no pixel masks).

Kupas et al., "Annotated Pap cell images and smear slices for cell
classification", Scientific Data 2024, doi 10.1038/s41597-024-03596-3. Data on
OSF, project ``fp2xe`` (https://osf.io/fp2xe/). The licence is reported as
CC BY 4.0; this project has not verified it, so check the OSF page before you
redistribute anything derived from it. Nothing is downloaded here.

Expected layout under ``root``::

    images/<stem>.png     2000x2000 RGB slice
    labels/<stem>.txt     one box per line: ``class cx cy w h``

The label format is YOLO: box centre and size normalised by the slice width
and height, origin top-left, y down. Class ids (APACC's order, which differs
from the ``paper`` scheme's ids, so classes are mapped **by name**)::

    0 healthy   1 rubbish   2 unhealthy   3 bothcells (-> "both" in the paper scheme)

Example: ``0 0.07175 0.52325 0.1435 0.2105`` in a 2000x2000 slice is a healthy
cell box of 287x421 px centred at (143.5, 1046.5).

APACC has no pixel masks: :mod:`papseg_utils.data.paper_masks` reconstructs
four-class masks from these boxes (read its caveats).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from papseg_utils.data.apacs23 import FieldIndex, FieldItem, pair_by_stem
from papseg_utils.data.errors import DataFormatError, DataLayoutError, DatasetNotFoundError
from papseg_utils.data.io import read_image
from papseg_utils.labels import PAPER

logger = logging.getLogger(__name__)

CITATION = (
    "P. Kupas et al., Annotated Pap cell images and smear slices for cell classification, "
    "Scientific Data 11 (2024), doi 10.1038/s41597-024-03596-3"
)
SOURCE = "OSF project fp2xe (https://osf.io/fp2xe/)"
LICENCE = "CC BY 4.0 (as reported; not verified by this project)"

APACC_CLASSES: tuple[str, ...] = ("healthy", "rubbish", "unhealthy", "bothcells")
"""APACC class names in APACC id order (id = position)."""

APACC_TO_PAPER: dict[str, str] = {
    "healthy": "healthy",
    "rubbish": "rubbish",
    "unhealthy": "unhealthy",
    "bothcells": "both",
}
"""APACC class name -> ``paper`` scheme class name."""

LAYOUT_HELP = (
    "Expected layout: <root>/images/<stem>.png slices and <root>/labels/<stem>.txt YOLO "
    "labels ('class cx cy w h' per line, normalised to [0, 1]). "
    f"Get APACC from {SOURCE} (licence {LICENCE}; cite {CITATION})."
)


@dataclass(frozen=True)
class Box:
    """One annotated cell box in pixel coordinates (x right, y down).

    Attributes
    ----------
    label : str
        APACC class name (``healthy``, ``rubbish``, ``unhealthy``, ``bothcells``).
    x0, y0, x1, y1 : float
        Corners in pixels; the box covers ``x0 <= x < x1``, ``y0 <= y < y1``.
    source : str
        ``"file:line"`` it came from ("" when built by hand).
    """

    label: str
    x0: float
    y0: float
    x1: float
    y1: float
    source: str = ""

    def __post_init__(self) -> None:
        if self.label not in APACC_TO_PAPER:
            raise ValueError(f"Box label {self.label!r} unknown; use one of {APACC_CLASSES}")
        if not (self.x1 > self.x0 and self.y1 > self.y0):
            raise ValueError(f"Box {self} has no area")

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def center(self) -> tuple[float, float]:
        """(cx, cy) in pixels."""
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    @property
    def paper_class(self) -> str:
        """Class name in the ``paper`` scheme."""
        return APACC_TO_PAPER[self.label]

    @property
    def paper_id(self) -> int:
        """Class id in the ``paper`` scheme."""
        return PAPER.ids[self.paper_class]

    def pixel_slices(self, shape: tuple[int, int], margin: float = 0.0) -> tuple[slice, slice]:
        """(rows, cols) slices of the pixels whose centre lies in the box grown by
        ``margin`` px (negative shrinks), clipped to ``shape`` (H, W)."""
        h, w = shape
        r0 = min(h, max(0, int(np.ceil(self.y0 - margin - 0.5))))
        r1 = min(h, max(0, int(np.ceil(self.y1 + margin - 0.5))))
        c0 = min(w, max(0, int(np.ceil(self.x0 - margin - 0.5))))
        c1 = min(w, max(0, int(np.ceil(self.x1 + margin - 0.5))))
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


def parse_yolo_line(
    line: str, width: int, height: int, where: str = "<string>", tolerance: float = 1e-3
) -> Box:
    """Parse one ``class cx cy w h`` line into a :class:`Box` in pixels.

    Boxes that stick out of the slice by at most ``tolerance`` (normalised) are
    clipped; anything else out of [0, 1] is an error naming ``where``.
    """
    parts = line.split()
    if len(parts) != 5:
        raise DataFormatError(
            f"{where}: expected 5 fields 'class cx cy w h', got {len(parts)} ({line.strip()!r}). "
            "Fix or delete this line."
        )
    try:
        cls = int(parts[0])
        cx, cy, bw, bh = (float(v) for v in parts[1:])
    except ValueError:
        raise DataFormatError(
            f"{where}: cannot parse {line.strip()!r}; the class must be an integer and "
            "cx cy w h decimal numbers. Fix or delete this line."
        ) from None
    if not 0 <= cls < len(APACC_CLASSES):
        raise DataFormatError(
            f"{where}: unknown class id {cls}; APACC ids are "
            + ", ".join(f"{i} {n}" for i, n in enumerate(APACC_CLASSES))
            + ". Fix the id or delete this line."
        )
    values = {"cx": cx, "cy": cy, "w": bw, "h": bh}
    if not all(np.isfinite(v) for v in values.values()):
        raise DataFormatError(f"{where}: non-finite coordinate in {line.strip()!r}")
    if bw <= 0 or bh <= 0:
        raise DataFormatError(
            f"{where}: box size w={bw}, h={bh} must be positive. Fix or delete this line."
        )
    lo, hi = -tolerance, 1 + tolerance
    edges = {"left": cx - bw / 2, "right": cx + bw / 2, "top": cy - bh / 2, "bottom": cy + bh / 2}
    bad = {k: v for k, v in {**values, **edges}.items() if not lo <= v <= hi}
    if bad:
        raise DataFormatError(
            f"{where}: values {bad} are outside [0, 1]; YOLO coordinates are normalised by the "
            f"slice size ({width}x{height} px). If they are in pixels, divide cx and w by the "
            "width and cy and h by the height."
        )
    x0 = max(0.0, (cx - bw / 2) * width)
    x1 = min(float(width), (cx + bw / 2) * width)
    y0 = max(0.0, (cy - bh / 2) * height)
    y1 = min(float(height), (cy + bh / 2) * height)
    return Box(APACC_CLASSES[cls], x0, y0, x1, y1, source=where)


def parse_yolo_labels(
    path: str | Path, width: int, height: int, tolerance: float = 1e-3
) -> list[Box]:
    """Read a YOLO label file into pixel :class:`Box` es (empty lines skipped)."""
    path = Path(path)
    boxes = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                boxes.append(parse_yolo_line(line, width, height, f"{path}:{n}", tolerance))
    return boxes


def image_size_of(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file, read from its header only."""
    try:
        with Image.open(path) as img:
            return img.size
    except OSError as err:
        raise DataFormatError(f"{path}: cannot read the image header ({err})") from err


@dataclass
class APACCIndex(FieldIndex):
    """Lazy index of APACC slices: paths until :meth:`load`.

    ``items[i].mask_path`` holds the label ``.txt`` path.
    """

    def boxes(self, i: int) -> list[Box]:
        """Boxes of slice ``i`` in pixels (reads the image header, not its pixels)."""
        item = self.items[i]
        w, h = image_size_of(item.image_path)
        return parse_yolo_labels(item.mask_path, w, h)

    def load(self, i: int) -> tuple[np.ndarray, list[Box]]:
        """Decode slice ``i``: image (H, W, 3) uint8 RGB and its boxes."""
        item = self.items[i]
        image = read_image(item.image_path)
        h, w = image.shape[:2]
        return image, parse_yolo_labels(item.mask_path, w, h)


def index_apacc(root: str | Path) -> APACCIndex:
    """Index APACC slices under ``root`` (``images/`` + ``labels/``), pairing by stem."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"APACC folder {root} does not exist. {LAYOUT_HELP}")
    for d in ("images", "labels"):
        if not (root / d).is_dir():
            raise DatasetNotFoundError(f"APACC: missing folder {root / d}. {LAYOUT_HELP}")
    pairs, report = pair_by_stem(
        root / "images",
        root / "labels",
        image_suffixes=(".png", ".jpg", ".jpeg"),
        mask_suffixes=(".txt",),
        relative_to=root,
    )
    if not report.ok:
        logger.warning("APACC %s: left out unpaired files: %s", root, report)
    if not pairs:
        raise DataLayoutError(f"APACC: no slice/label pairs under {root}. {LAYOUT_HELP}")
    items = [FieldItem(str(i), str(t), i.stem, i.stem.split("_")[0]) for i, t in pairs]
    return APACCIndex(root=str(root), items=items, report=report)


def count_apacc(root: str | Path) -> dict[str, int]:
    """Paired slices (for ``registry.validate``)."""
    return {"slices": len(index_apacc(root))}


def _register() -> None:
    from papseg_utils.data.registry import DatasetInfo, register

    register(
        DatasetInfo(
            name="apacc",
            description="APACC: 2000x2000 Pap smear slices with YOLO cell boxes in four classes "
            "(healthy, unhealthy, rubbish, bothcells) and no pixel masks; load_dataset builds "
            "reconstructed four-class masks (papseg_utils.data.paper_masks, read its caveats).",
            citation=CITATION,
            licence=LICENCE,
            obtain=f"Download the APACC slices and labels from {SOURCE}; set PAPSEG_APACC_DIR.",
            layout=LAYOUT_HELP,
            loader="papseg_utils.data.paper_masks:load_apacc_masks",
            default_scheme="paper",
            env_var="PAPSEG_APACC_DIR",
            expected_counts={"slices": 21371},
            counter=count_apacc,
        )
    )


_register()
