"""Settings of the synthetic generator and the Herlev classes its single-cell crops imitate."""

from __future__ import annotations

from dataclasses import dataclass

DIFFICULTIES: dict[str, float] = {"easy": 0.15, "medium": 0.5, "hard": 0.85}

# Herlev's diagnostic classes and how the crop generator draws each one:
# (health, cytoplasm stain, cell radius range in px, N/C area range, elongation range)
CELL_TYPES: dict[
    str, tuple[str, str, tuple[float, float], tuple[float, float], tuple[float, float]]
] = {
    "normal_superficiel": ("healthy", "eosin", (70, 110), (0.006, 0.02), (1.0, 1.5)),
    "normal_intermediate": ("healthy", "green", (65, 105), (0.015, 0.045), (1.0, 1.5)),
    "normal_columnar": ("healthy", "green", (26, 38), (0.25, 0.40), (1.8, 2.6)),
    "light_dysplastic": ("unhealthy", "green", (40, 60), (0.15, 0.32), (1.0, 1.4)),
    "moderate_dysplastic": ("unhealthy", "green", (32, 48), (0.30, 0.47), (1.0, 1.4)),
    "severe_dysplastic": ("unhealthy", "lilac", (26, 38), (0.40, 0.60), (1.0, 1.3)),
    "carcinoma_in_situ": ("unhealthy", "lilac", (22, 34), (0.55, 0.78), (1.0, 1.3)),
}
"""Herlev class -> (health, cytoplasm stain, cell radius px, N/C area ratio, elongation).

N/C is nucleus area / (nucleus + cytoplasm area), the Herlev definition. The
ranges roughly follow the inter-quartile ranges measured on the Herlev
development copy (see the data chapter)."""


@dataclass(frozen=True)
class SyntheticConfig:
    """Settings of the synthetic generator.

    Attributes
    ----------
    image_size : int | tuple[int, int]
        Field size in px; an int gives a square, a tuple is (height, width).
    num_cells : tuple[int, int]
        Inclusive range of the number of epithelial cells in a field.
    difficulty : str | float
        ``"easy"``, ``"medium"``, ``"hard"`` or a number in [0, 1]; scales
        noise, blur, illumination, contrast loss, stain jitter and overlap.
    unhealthy_fraction : float
        Probability that a cell is unhealthy.
    rubbish_amount : float
        Multiplier on the number of rubbish objects (0 disables rubbish).
    cell_scale : float
        Multiplier on cell sizes (1.0: a healthy cell spans about a quarter of
        a 256 px field).
    """

    image_size: int | tuple[int, int] = 256
    num_cells: tuple[int, int] = (3, 8)
    difficulty: str | float = "medium"
    unhealthy_fraction: float = 0.4
    rubbish_amount: float = 1.0
    cell_scale: float = 1.0

    def __post_init__(self) -> None:
        h, w = self.shape
        if h < 16 or w < 16:
            raise ValueError(f"SyntheticConfig.image_size={self.image_size!r}: use at least 16 px")
        lo, hi = self.num_cells
        if lo < 0 or hi < lo:
            raise ValueError(
                f"SyntheticConfig.num_cells={self.num_cells!r}: need 0 <= low <= high, e.g. (3, 8)"
            )
        _ = self.level  # validates difficulty
        if not 0.0 <= self.unhealthy_fraction <= 1.0:
            raise ValueError(f"unhealthy_fraction={self.unhealthy_fraction}: must be in [0, 1]")
        if self.rubbish_amount < 0 or self.cell_scale <= 0:
            raise ValueError("rubbish_amount must be >= 0 and cell_scale > 0")

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in px."""
        if isinstance(self.image_size, int):
            return int(self.image_size), int(self.image_size)
        h, w = self.image_size
        return int(h), int(w)

    @property
    def level(self) -> float:
        """Difficulty as a number in [0, 1]."""
        d = self.difficulty
        if isinstance(d, str):
            if d not in DIFFICULTIES:
                raise ValueError(
                    f"difficulty={d!r}: use one of {sorted(DIFFICULTIES)} or a number in [0, 1]"
                )
            return DIFFICULTIES[d]
        if not 0.0 <= float(d) <= 1.0:
            raise ValueError(f"difficulty={d!r}: a number must lie in [0, 1]")
        return float(d)
