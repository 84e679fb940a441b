"""One source of truth for class names, ids and colours.

Every loader, plot, metric and notebook takes its classes from a
:class:`LabelScheme` defined here. Ids are contiguous from 0 (background);
``IGNORE_INDEX`` marks pixels that losses and metrics skip.

Schemes
-------
``paper``
    The paper's taxonomy (APACC classes): background, healthy, unhealthy,
    rubbish, both. "both" marks pixels where a healthy and an unhealthy cell
    overlap (and APACC's own ``bothcells`` boxes).
``paper_cells``
    The part of the paper's taxonomy that Herlev supports: background,
    healthy cell, unhealthy cell.
``herlev3``
    The standard Herlev benchmark: background, cytoplasm, nucleus.
``herlev5``
    Healthy or unhealthy x cytoplasm or nucleus, plus background.
``cells``
    Binary cell vs background, as in the APACS23 masks.

Colours
-------
One colour means one class name in every scheme: ``healthy`` is the same green
in ``paper`` and ``paper_cells``, and no other class anywhere uses it. The
colours come from the Okabe-Ito palette, which stays distinguishable for the
common forms of colour blindness; ``herlev5`` adds four from ColorBrewer's
BrBG scale (teal = healthy, brown = unhealthy, light = cytoplasm, dark =
nucleus).

Figures also need colours that are *not* classes: the outcome of a predicted
pixel (:data:`OUTCOME_COLOURS`) and compared settings such as pre-trained vs
scratch or CNN vs Transformer (:data:`CONDITION_COLOURS`). They are chosen
here too, at least :data:`MIN_COLOUR_DISTANCE` (CIELAB) from every class
colour, so that a figure's legend can never be read as a class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

IGNORE_INDEX: int = 255
"""Label value that losses and metrics skip (uint8-compatible)."""

IGNORE_COLOUR: tuple[int, int, int] = (128, 128, 128)
"""Gray of ``IGNORE_INDEX`` pixels in colourised masks and overlays."""


@dataclass(frozen=True)
class LabelScheme:
    """A named set of classes with ids, display names and RGB colours.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"herlev3"``.
    classes : tuple[str, ...]
        Class names in id order; ``classes[0]`` is the background.
    colours : tuple[tuple[int, int, int], ...]
        RGB colour (0-255) of each class, same order.
    description : str
        One line on what the scheme is for.
    ignore_index : int
        Label value skipped by losses and metrics.
    """

    name: str
    classes: tuple[str, ...]
    colours: tuple[tuple[int, int, int], ...]
    description: str = ""
    ignore_index: int = IGNORE_INDEX
    display_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.classes) != len(self.colours):
            raise ValueError(
                f"scheme {self.name!r}: {len(self.classes)} classes but {len(self.colours)} colours"
            )
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"scheme {self.name!r}: duplicate class names {self.classes}")
        if self.display_names and len(self.display_names) != len(self.classes):
            raise ValueError(f"scheme {self.name!r}: display_names must match classes")
        if not 0 <= self.ignore_index <= 255 or self.ignore_index < len(self.classes):
            raise ValueError(
                f"scheme {self.name!r}: ignore_index {self.ignore_index} clashes with class ids"
            )

    @property
    def num_classes(self) -> int:
        """Number of classes, background included."""
        return len(self.classes)

    @property
    def ids(self) -> dict[str, int]:
        """Mapping class name -> id."""
        return {c: i for i, c in enumerate(self.classes)}

    @property
    def foreground(self) -> tuple[str, ...]:
        """Class names without the background."""
        return self.classes[1:]

    def label(self, class_id: int) -> str:
        """Human-readable name of ``class_id`` (display name if set)."""
        names = self.display_names or tuple(c.replace("_", " ") for c in self.classes)
        return names[class_id]

    def colour(self, class_id: int, scale: float = 255.0) -> tuple[float, ...]:
        """RGB colour of ``class_id``; ``scale=1.0`` gives matplotlib floats."""
        return tuple(v * scale / 255.0 for v in self.colours[class_id])

    def palette(self) -> np.ndarray:
        """(256, 3) uint8 lookup table: class ids -> colours, ignore -> gray."""
        lut = np.zeros((256, 3), dtype=np.uint8)
        lut[: self.num_classes] = np.asarray(self.colours, dtype=np.uint8)
        lut[self.ignore_index] = IGNORE_COLOUR
        return lut

    def flat_palette(self) -> list[int]:
        """768-long list for ``PIL.Image.putpalette`` (palette PNG masks)."""
        return self.palette().reshape(-1).tolist()

    def colourise(self, masks: np.ndarray) -> np.ndarray:
        """Map label ``masks`` (H, W) integer to an RGB image (H, W, 3) uint8."""
        masks = np.asarray(masks)
        self.check(masks)
        return self.palette()[masks.astype(np.int64)]

    def check(self, masks: np.ndarray, where: str = "mask") -> None:
        """Raise ``ValueError`` naming ``where`` if ``masks`` holds unknown labels."""
        values = np.unique(np.asarray(masks))
        bad = [int(v) for v in values if not (0 <= v < self.num_classes or v == self.ignore_index)]
        if bad:
            raise ValueError(
                f"{where}: label values {bad} are not in scheme {self.name!r} "
                f"(valid: 0..{self.num_classes - 1} = {list(self.classes)}, ignore {self.ignore_index}). "
                "Pick the scheme that matches your masks, or remap the labels."
            )

    def to_dict(self) -> dict:
        """Plain dict for JSON/YAML (checkpoint configs, folder datasets)."""
        return {
            "name": self.name,
            "classes": list(self.classes),
            "colours": [list(c) for c in self.colours],
            "ignore_index": self.ignore_index,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabelScheme:
        """Inverse of :meth:`to_dict`; validates the content."""
        try:
            return cls(
                name=str(data["name"]),
                classes=tuple(str(c) for c in data["classes"]),
                colours=tuple(tuple(int(v) for v in c) for c in data["colours"]),
                description=str(data.get("description", "")),
                ignore_index=int(data.get("ignore_index", IGNORE_INDEX)),
            )
        except KeyError as err:
            raise ValueError(
                f"label scheme is missing the key {err}; expected name, classes, colours"
            ) from err


# Okabe-Ito colours
_BLACK = (0, 0, 0)
_ORANGE = (230, 159, 0)
_SKY = (86, 180, 233)
_GREEN = (0, 158, 115)
_YELLOW = (240, 228, 66)
_BLUE = (0, 114, 178)
_VERMILION = (213, 94, 0)
_PURPLE = (204, 121, 167)
# ColorBrewer BrBG: light / dark teal (healthy), light / dark brown (unhealthy)
_LIGHT_TEAL = (128, 205, 193)
_DARK_TEAL = (1, 102, 94)
_SAND = (223, 194, 125)
_BROWN = (140, 81, 10)

PAPER = LabelScheme(
    "paper",
    ("background", "healthy", "unhealthy", "rubbish", "both"),
    (_BLACK, _GREEN, _VERMILION, _YELLOW, _PURPLE),
    "The paper's taxonomy (APACC classes); 'both' = overlap of healthy and unhealthy cells",
)
PAPER_CELLS = LabelScheme(
    "paper_cells",
    ("background", "healthy", "unhealthy"),
    (_BLACK, _GREEN, _VERMILION),
    "Healthy vs unhealthy cells (the part of the paper's taxonomy Herlev supports)",
)
HERLEV3 = LabelScheme(
    "herlev3",
    ("background", "cytoplasm", "nucleus"),
    (_BLACK, _SKY, _BLUE),
    "Herlev benchmark: background / cytoplasm / nucleus",
)
HERLEV5 = LabelScheme(
    "herlev5",
    (
        "background",
        "healthy_cytoplasm",
        "healthy_nucleus",
        "unhealthy_cytoplasm",
        "unhealthy_nucleus",
    ),
    (_BLACK, _LIGHT_TEAL, _DARK_TEAL, _SAND, _BROWN),
    "Healthy or unhealthy x cytoplasm or nucleus",
)

CELLS = LabelScheme(
    "cells",
    ("background", "cell"),
    (_BLACK, _ORANGE),
    "Binary cell vs background (APACS23 masks)",
)

SCHEMES: dict[str, LabelScheme] = {s.name: s for s in (PAPER, PAPER_CELLS, HERLEV3, HERLEV5, CELLS)}


MIN_COLOUR_DISTANCE: float = 20.0
"""Least CIELAB distance (Delta E 1976) between a non-class colour and any class colour."""

OUTCOME_COLOURS: dict[str, tuple[int, int, int]] = {
    "correct": (51, 34, 136),  # indigo: predicted and true
    "extra": (255, 0, 255),  # magenta: predicted but not true (false positive)
    "missed": (255, 255, 255),  # white: true but not predicted (false negative)
}
"""RGB colours of a predicted pixel's outcome in error maps and truth/prediction overlays."""

CONDITION_COLOURS: tuple[tuple[int, int, int], ...] = (
    (26, 133, 255),  # azure
    (212, 17, 89),  # crimson
    (221, 221, 221),  # light gray
    (68, 68, 68),  # dark gray
)
"""RGB colours, in order, of compared settings that are not classes (pre-trained vs scratch,
CNN vs Transformer, crops vs windows, ...); a figure's legend names them."""


def _unit(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    return tuple(v / 255.0 for v in rgb)


def outcome_colour(outcome: str) -> tuple[float, float, float]:
    """Matplotlib colour of ``outcome`` in {"correct", "extra", "missed"}."""
    try:
        return _unit(OUTCOME_COLOURS[outcome])
    except KeyError:
        raise KeyError(f"unknown outcome {outcome!r}; valid: {sorted(OUTCOME_COLOURS)}") from None


def condition_colours(names) -> dict[str, tuple[float, float, float]]:
    """Matplotlib colours for the compared settings ``names``, in :data:`CONDITION_COLOURS` order."""
    names = list(names)
    if len(names) > len(CONDITION_COLOURS):
        raise ValueError(
            f"{len(names)} conditions but only {len(CONDITION_COLOURS)} condition colours"
        )
    return {n: _unit(c) for n, c in zip(names, CONDITION_COLOURS, strict=False)}


def get_scheme(name: str | LabelScheme) -> LabelScheme:
    """Return the scheme called ``name``; raise ``KeyError`` listing valid names."""
    if isinstance(name, LabelScheme):
        return name
    try:
        return SCHEMES[name]
    except KeyError:
        raise KeyError(f"unknown label scheme {name!r}; valid schemes: {sorted(SCHEMES)}") from None
