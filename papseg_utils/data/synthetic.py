"""Synthetic Pap smear fields and single-cell crops with exact pixel masks.

Nothing is shipped: every image is drawn from a seed, so the tutorial runs on a
fresh machine with no download, and its ground truth is exact.

How an image is made
--------------------
Cells are random star-shaped polygons (a radius profile with a few harmonics).
Their stains are painted as *optical densities* and turned into colour with
Beer-Lambert's law, ``I = I0 * exp(-sum_k c_k * OD_k)``, as in a real
bright-field microscope; overlapping cells therefore look darker where they
overlap, and a per-field jitter of the three stain vectors (haematoxylin,
eosin/orange G, light green) imitates slide-to-slide stain variation.

* **Healthy** cells (superficial, intermediate): large flattened polygonal
  cytoplasm, pink-orange (superficial) or cyan-green (intermediate), with a
  small round nucleus: nucleus/cell area ratio (N/C) about 0.01-0.06.
* **Unhealthy** cells (dysplasia, carcinoma in situ): smaller, rounder
  cytoplasm, often cyan or lilac; enlarged, irregular, hyperchromatic nuclei
  with coarse chromatin: N/C about 0.2-0.8.
* **Rubbish**: debris specks, neutrophils (2-4 small dark lobes), red blood
  cells (small pale-red discs with a central pallor) and mucus strands.
* **Artefacts**, scaled by ``difficulty``: Gaussian noise, defocus blur,
  uneven illumination (gradient and vignetting), low contrast, stain jitter
  and more overlap between cells.

Labelling rules (``scheme``)
----------------------------
``paper``: a pixel covered by at least one healthy and at least one unhealthy
cell is ``both``; covered by healthy cells only (any number: a healthy cell
over a healthy cell stays ``healthy``) is ``healthy``; unhealthy only is
``unhealthy``. Rubbish is ``rubbish`` only where no cell lies under it: on top
of a cell the cell's label wins (annotators outline cells, and a neutrophil on
a cell does not make the cell rubbish). Everything else is ``background``.

``paper_cells``: as ``paper`` but without ``both`` and ``rubbish``: overlaps of
healthy and unhealthy cells are ``unhealthy`` (the diagnostically relevant
one), rubbish is background.

``herlev3``: any nucleus pixel (cytoplasm is translucent, so nuclei of lower
cells stay visible) is ``nucleus``; other cell pixels are ``cytoplasm``; rubbish
is background.

``herlev5``: like ``herlev3`` split by health; where healthy and unhealthy
overlap, the unhealthy part wins, and any nucleus wins over any cytoplasm.

``meta`` always carries the boolean layers (``nucleus``, ``healthy``,
``unhealthy``, ``rubbish``), so one field can be relabelled without redrawing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np

from papseg_utils.data.base import Sample
from papseg_utils.labels import get_scheme

log = logging.getLogger(__name__)

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

# Optical density (per unit concentration) of each stain in R, G, B.
_OD_HAEMATOXYLIN = np.array([0.65, 0.80, 0.30], dtype=np.float32)  # blue-purple
_OD_EOSIN = np.array([0.10, 0.55, 0.38], dtype=np.float32)  # pink-orange (eosin + orange G)
_OD_GREEN = np.array([0.52, 0.18, 0.28], dtype=np.float32)  # light green SF -> cyan-green
_OD_LILAC = np.array([0.33, 0.38, 0.14], dtype=np.float32)  # mixed stain of metaplastic cells
_STAINS = ("haematoxylin", "eosin", "green", "lilac")
_STAIN_OD = np.stack([_OD_HAEMATOXYLIN, _OD_EOSIN, _OD_GREEN, _OD_LILAC])


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


@dataclass
class _Cell:
    cyto: np.ndarray  # (K, 2) int32 polygon, x y
    nucleus: np.ndarray  # (K, 2) int32 polygon
    healthy: bool
    stain: int  # index into _STAINS
    density: float
    nuc_density: float
    coarse: float  # chromatin coarseness 0..1


# ----------------------------------------------------------------------------- shapes


def _star_polygon(
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    irregularity: float,
    elongation: float = 1.0,
    n_points: int = 48,
    harmonics: int = 4,
) -> np.ndarray:
    """Star-shaped polygon: radius profile ``r(t) = R (1 + sum_k a_k cos(k t + p_k))``.

    Returns (n_points, 2) int32 x/y vertices (OpenCV order).
    """
    t = np.linspace(0.0, 2.0 * np.pi, n_points, endpoint=False)
    r = np.ones_like(t)
    for k in range(2, 2 + harmonics):
        r += rng.normal(0.0, irregularity / k) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    r = np.clip(r, 0.55, 1.45) * radius
    angle = rng.uniform(0, np.pi)
    x = r * np.cos(t) * elongation
    y = r * np.sin(t) / np.sqrt(elongation)
    ca, sa = np.cos(angle), np.sin(angle)
    pts = np.stack([centre[0] + ca * x - sa * y, centre[1] + sa * x + ca * y], axis=1)
    return np.round(pts).astype(np.int32)


def _make_cell(
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    healthy: bool,
    stain: int,
    nc_ratio: float,
    elongation: float,
) -> _Cell:
    irregular = 0.10 if healthy else 0.06
    cyto = _star_polygon(rng, centre, radius, irregular * 2.2, elongation, harmonics=5)
    # nucleus radius from the N/C area ratio (area ~ r^2)
    r_nuc = radius * np.sqrt(nc_ratio) * 1.05
    shift = radius * (0.12 if healthy else 0.2) * (1.0 - np.sqrt(nc_ratio))
    if elongation > 1.5:  # columnar cells: nucleus towards one end
        shift = radius * 0.5
    off = rng.normal(0.0, shift, size=2)
    nuc_el = rng.uniform(1.0, 1.25) if healthy else rng.uniform(1.0, 1.6)
    nucleus = _star_polygon(
        rng,
        (centre[0] + off[0], centre[1] + off[1]),
        r_nuc,
        0.04 if healthy else rng.uniform(0.12, 0.3),
        nuc_el,
        n_points=32,
        harmonics=3 if healthy else 5,
    )
    return _Cell(
        cyto=cyto,
        nucleus=nucleus,
        healthy=healthy,
        stain=stain,
        density=rng.uniform(0.25, 0.45) if stain != 3 else rng.uniform(0.35, 0.6),
        nuc_density=rng.uniform(0.9, 1.2) if healthy else rng.uniform(1.2, 1.6),
        coarse=rng.uniform(0.1, 0.3) if healthy else rng.uniform(0.4, 0.8),
    )


# ----------------------------------------------------------------------------- textures


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]-ish: a small random grid upsampled bicubically."""
    h, w = shape
    gh, gw = max(2, h // cells), max(2, w // cells)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _fill(shape: tuple[int, int], poly: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Rasterise ``poly`` into a (h, w) uint8 {0,1} array covering ``box`` = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.fillPoly(canvas, [poly - np.array([x0, y0], dtype=np.int32)], 1)
    return canvas


def _box(poly: np.ndarray, shape: tuple[int, int], pad: int = 2) -> tuple[int, int, int, int]:
    h, w = shape
    x0 = int(max(0, poly[:, 0].min() - pad))
    y0 = int(max(0, poly[:, 1].min() - pad))
    x1 = int(min(w, poly[:, 0].max() + pad + 1))
    y1 = int(min(h, poly[:, 1].max() + pad + 1))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


# ----------------------------------------------------------------------------- rendering


def _render(
    rng: np.random.Generator,
    shape: tuple[int, int],
    cells: list[_Cell],
    rubbish_count: int,
    level: float,
    rubbish_scale: float,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Paint cells and rubbish; return the (H, W, 3) uint8 image and boolean layers."""
    h, w = shape
    conc = np.zeros((4, h, w), dtype=np.float32)
    n_healthy = np.zeros((h, w), dtype=np.uint8)
    n_unhealthy = np.zeros((h, w), dtype=np.uint8)
    nucleus = np.zeros((h, w), dtype=bool)
    rubbish = np.zeros((h, w), dtype=bool)

    tex_low = _smooth_noise(rng, shape, 12)
    tex_fine = rng.standard_normal((h, w)).astype(np.float32)
    tex_fine = cv2.GaussianBlur(tex_fine, (0, 0), 0.8)
    tex_fine *= 1.0 / max(float(tex_fine.std()), 1e-6)

    kernel = np.ones((3, 3), np.uint8)
    for cell in cells:
        x0, y0, x1, y1 = _box(cell.cyto, shape)
        cy = _fill(shape, cell.cyto, (x0, y0, x1, y1))
        nu = _fill(shape, cell.nucleus, (x0, y0, x1, y1)) & cy
        sl = np.s_[y0:y1, x0:x1]
        (n_healthy if cell.healthy else n_unhealthy)[sl] += cy
        nucleus[sl] |= nu.astype(bool)
        # folded / thicker rim of the cytoplasm
        rim = cy - cv2.erode(cy, kernel, iterations=2)
        soft = 0.85 + 0.3 * tex_low[sl] + 0.06 * tex_fine[sl]
        conc[cell.stain][sl] += (cy * (1.0 + 0.6 * rim)) * (cell.density * soft)
        chrom = 1.0 + cell.coarse * 0.45 * tex_fine[sl] + 0.1 * tex_low[sl]
        conc[0][sl] += nu * (cell.nuc_density * chrom)

    # rubbish ---------------------------------------------------------------
    s = rubbish_scale
    for _ in range(rubbish_count):
        kind = rng.choice(4, p=[0.35, 0.3, 0.2, 0.15])
        cx, cy_ = rng.uniform(0, w), rng.uniform(0, h)
        layer = np.zeros((h, w), dtype=np.uint8)
        if kind == 0:  # debris speck
            r = max(1, int(round(rng.uniform(0.6, 2.2) * s)))
            pts = _star_polygon(rng, (cx, cy_), r, 0.4, n_points=12, harmonics=2)
            cv2.fillPoly(layer, [pts], 1)
            conc[rng.choice([0, 1])] += layer * rng.uniform(0.6, 1.4)
        elif kind == 1:  # neutrophil: 2-4 dark lobes and a faint halo
            halo_r = max(2, int(round(4.5 * s)))
            cv2.circle(layer, (int(cx), int(cy_)), halo_r, 1, -1)
            conc[3] += layer * 0.25
            lobes = np.zeros_like(layer)
            for _lobe in range(int(rng.integers(2, 5))):
                lx = int(cx + rng.normal(0, 1.6 * s))
                ly = int(cy_ + rng.normal(0, 1.6 * s))
                cv2.circle(lobes, (lx, ly), max(1, int(round(1.6 * s))), 1, -1)
            conc[0] += lobes * 1.4
            layer |= lobes
        elif kind == 2:  # red blood cell: pale red disc with central pallor
            r = max(2, int(round(rng.uniform(3.2, 4.2) * s)))
            cv2.circle(layer, (int(cx), int(cy_)), r, 1, -1)
            inner = np.zeros_like(layer)
            cv2.circle(inner, (int(cx), int(cy_)), max(1, r // 2), 1, -1)
            conc[1] += (layer.astype(np.float32) - 0.5 * inner) * 0.55
        else:  # mucus strand
            n = int(rng.integers(4, 8))
            steps = rng.normal(0, 6 * s, size=(n, 2)).cumsum(axis=0)
            pts = np.round(steps + [cx, cy_]).astype(np.int32)
            cv2.polylines(layer, [pts], False, 1, thickness=max(1, int(round(1.2 * s))))
            conc[2] += layer * 0.3
        rubbish |= layer.astype(bool)

    # optics ----------------------------------------------------------------
    jitter = 0.04 + 0.18 * level
    od = _STAIN_OD * rng.uniform(1 - jitter, 1 + jitter, size=_STAIN_OD.shape).astype(np.float32)
    od_img = np.tensordot(conc.transpose(1, 2, 0), od, axes=([2], [0]))  # (H, W, 3)
    # paper / mounting medium: faint lilac tint, like Herlev backgrounds
    od_img += np.array([0.08, 0.13, 0.06], dtype=np.float32) * rng.uniform(0.6, 1.6)
    sigma = 0.6 + rng.uniform(0.0, 1.0 + 2.4 * level) * (min(h, w) / 256.0) ** 0.5
    od_img = cv2.GaussianBlur(od_img, (0, 0), sigma)
    light = np.exp(-od_img)
    # uneven illumination: vignette + linear gradient
    yy, xx = np.ogrid[-1.0 : 1.0 : complex(0, h), -1.0 : 1.0 : complex(0, w)]
    vig = 1.0 - 0.35 * level * rng.uniform(0.3, 1.0) * (xx * xx + yy * yy) / 2.0
    ang = rng.uniform(0, 2 * np.pi)
    grad = 1.0 + 0.15 * level * rng.uniform(0, 1) * (np.cos(ang) * xx + np.sin(ang) * yy)
    light *= (vig * grad).astype(np.float32)[..., None]
    # low contrast: blend towards the mean
    contrast = 1.0 - 0.45 * level * rng.uniform(0, 1)
    light = light.mean() + contrast * (light - light.mean())
    img = light * 255.0 * rng.uniform(0.92, 1.0)
    img += rng.standard_normal(img.shape, dtype=np.float32) * (1.0 + 7.0 * level)
    image = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    layers = {
        "healthy": n_healthy > 0,
        "unhealthy": n_unhealthy > 0,
        "nucleus": nucleus,
        "rubbish": rubbish,
        "healthy_count": n_healthy,
    }
    return image, layers


def labels_from_layers(layers: dict[str, np.ndarray], scheme: str = "paper") -> np.ndarray:
    """Turn the generator's boolean layers into a (H, W) uint8 mask of ``scheme``.

    See the module docstring for the rules of each scheme.
    """
    name = get_scheme(scheme).name
    hl, ul = layers["healthy"], layers["unhealthy"]
    nuc, rub = layers["nucleus"], layers["rubbish"]
    cell = hl | ul
    mask = np.zeros(hl.shape, dtype=np.uint8)
    if name == "paper":
        mask[rub & ~cell] = 3
        mask[hl] = 1
        mask[ul] = 2
        mask[hl & ul] = 4
    elif name == "paper_cells":
        mask[hl] = 1
        mask[ul] = 2
    elif name == "herlev3":
        mask[cell] = 1
        mask[nuc & cell] = 2
    elif name == "herlev5":
        mask[hl] = 1
        mask[ul] = 3
        # the nucleus belongs to the healthier layer only where no unhealthy cell lies
        mask[nuc & hl & ~ul] = 2
        mask[nuc & ul] = 4
    else:
        raise ValueError(
            f"scheme {scheme!r} is not supported by the synthetic generator; "
            "use 'paper', 'paper_cells', 'herlev3' or 'herlev5'"
        )
    return mask


# ----------------------------------------------------------------------------- public API


def generate_field(
    seed: int,
    config: SyntheticConfig | None = None,
    scheme: Literal["paper", "paper_cells", "herlev3", "herlev5"] = "paper",
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Draw one field of view of a Pap smear.

    Parameters
    ----------
    seed : int
        Same seed and config give the same output, bit for bit.
    config : SyntheticConfig, optional
        Defaults to ``SyntheticConfig()`` (256 px, 3-8 cells, medium).
    scheme : str
        Label scheme of the returned mask (rules in the module docstring).

    Returns
    -------
    image : np.ndarray
        (H, W, 3) uint8 RGB.
    mask : np.ndarray
        (H, W) uint8 class ids of ``scheme``.
    meta : dict
        ``seed``, ``num_cells``, ``num_healthy``, ``num_unhealthy``,
        ``num_rubbish``, ``difficulty`` (float), the boolean (H, W) layers
        ``healthy``, ``unhealthy``, ``nucleus``, ``rubbish``, and
        ``cells``: a list of per-cell dicts (``healthy``, ``cell_area``,
        ``nucleus_area`` in px).
    """
    config = config or SyntheticConfig()
    rng = np.random.default_rng(seed)
    h, w = config.shape
    level = config.level
    scale = min(h, w) / 256.0 * config.cell_scale
    n = int(rng.integers(config.num_cells[0], config.num_cells[1] + 1))
    # overlap: minimum centre distance as a fraction of the sum of radii
    min_gap = 0.95 - 0.8 * level
    cells: list[_Cell] = []
    placed: list[tuple[float, float, float]] = []
    for _ in range(n):
        healthy = bool(rng.uniform() >= config.unhealthy_fraction)
        if healthy:
            radius = rng.uniform(26, 40) * scale
            nc = rng.uniform(0.012, 0.05)
            stain = 1 if rng.uniform() < 0.45 else 2
            elong = rng.uniform(1.0, 1.45)
        else:
            radius = rng.uniform(15, 24) * scale
            nc = rng.uniform(0.2, 0.6)
            stain = int(rng.choice([2, 3], p=[0.55, 0.45]))
            elong = rng.uniform(1.0, 1.3)
        for _try in range(12):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            if all(
                (cx - px) ** 2 + (cy - py) ** 2 >= (min_gap * (radius + pr)) ** 2
                for px, py, pr in placed
            ):
                break
        placed.append((cx, cy, radius))
        cells.append(_make_cell(rng, (cx, cy), radius, healthy, stain, nc, elong))
    n_rub = int(round(rng.integers(4, 13) * config.rubbish_amount))
    image, layers = _render(rng, (h, w), cells, n_rub, level, max(scale, 0.5))
    mask = labels_from_layers(layers, scheme)
    meta = {
        "seed": int(seed),
        "difficulty": level,
        "num_cells": n,
        "num_healthy": sum(c.healthy for c in cells),
        "num_unhealthy": sum(not c.healthy for c in cells),
        "num_rubbish": n_rub,
        "healthy": layers["healthy"],
        "unhealthy": layers["unhealthy"],
        "nucleus": layers["nucleus"],
        "rubbish": layers["rubbish"],
        "cells": [
            {
                "healthy": c.healthy,
                "cell_area": float(cv2.contourArea(c.cyto)),
                "nucleus_area": float(cv2.contourArea(c.nucleus)),
            }
            for c in cells
        ],
    }
    return image, mask, meta


def generate_cell(
    seed: int,
    diagnosis: str = "normal_intermediate",
    difficulty: str | float = "medium",
    scheme: Literal["paper", "paper_cells", "herlev3", "herlev5"] = "herlev3",
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Draw a single-cell crop comparable to a Herlev image of class ``diagnosis``.

    The cell is centred, with a margin of background and parts of up to two
    neighbouring cells (as in Herlev crops); the mask labels only the centre
    cell (neighbours are background, as in Herlev's masks).

    Returns
    -------
    image : (H, W, 3) uint8, mask : (H, W) uint8 of ``scheme``, meta : dict
        ``meta`` has ``diagnosis``, ``nc_ratio`` (drawn target) and the
        measured ``nucleus_area`` and ``cell_area`` in px.
    """
    if diagnosis not in CELL_TYPES:
        raise ValueError(f"diagnosis={diagnosis!r}: use one of {list(CELL_TYPES)}")
    health, stain_name, r_range, nc_range, el_range = CELL_TYPES[diagnosis]
    level = SyntheticConfig(difficulty=difficulty).level
    rng = np.random.default_rng(seed)
    radius = rng.uniform(*r_range)
    nc = rng.uniform(*nc_range)
    elong = rng.uniform(*el_range)
    margin = rng.uniform(1.15, 1.45)
    w = int(round(2 * radius * margin * np.sqrt(elong) * rng.uniform(1.0, 1.2)))
    h = int(round(2 * radius * margin * rng.uniform(0.85, 1.05)))
    centre = (w / 2 + rng.normal(0, 2), h / 2 + rng.normal(0, 2))
    stain = _STAINS.index(stain_name)
    if rng.uniform() < 0.2:  # stain variation within a class
        stain = _STAINS.index("lilac") if stain_name != "lilac" else _STAINS.index("green")
    main = _make_cell(rng, centre, radius, health == "healthy", stain, nc, elong)
    cells = []
    for _ in range(int(rng.integers(0, 3))):  # neighbours peeking in from the edges
        ang = rng.uniform(0, 2 * np.pi)
        d = radius * rng.uniform(1.5, 2.1)
        c = (centre[0] + d * np.cos(ang) * np.sqrt(elong), centre[1] + d * np.sin(ang))
        cells.append(
            _make_cell(rng, c, radius * rng.uniform(0.7, 1.1), health == "healthy", stain, nc, 1.2)
        )
    cells.append(main)
    image, _ = _render(rng, (h, w), cells, int(rng.integers(0, 4)), level, max(radius / 30, 0.8))
    # mask of the centre cell only
    _, layers = _render(np.random.default_rng(0), (h, w), [main], 0, 0.0, 1.0)
    mask = labels_from_layers(layers, scheme)
    meta = {
        "diagnosis": diagnosis,
        "nc_ratio": float(nc),
        "nucleus_area": float(layers["nucleus"].sum()),
        "cell_area": float((layers["healthy"] | layers["unhealthy"]).sum()),
        "nucleus": layers["nucleus"],
    }
    return image, mask, meta


def generate_samples(
    n: int,
    seed: int = 0,
    config: SyntheticConfig | None = None,
    scheme: str = "paper",
    mode: Literal["field", "cell"] = "field",
) -> list[Sample]:
    """Draw ``n`` samples; sample ``i`` uses seed ``seed * 1_000_003 + i``.

    ``mode="field"`` draws fields of view (group = ``"mostly_unhealthy"`` if
    unhealthy cells outnumber healthy ones, else ``"mostly_healthy"``);
    ``mode="cell"`` draws Herlev-like single-cell crops cycling through the
    seven Herlev classes (group = the class name), at ``config.difficulty``.
    ``Sample.meta`` holds the generator's meta (boolean layers included).
    """
    if n < 0:
        raise ValueError(f"n={n}: the number of samples must be >= 0")
    config = config or SyntheticConfig()
    classes = list(CELL_TYPES)
    out: list[Sample] = []
    for i in range(n):
        s = int(seed) * 1_000_003 + i
        if mode == "field":
            image, mask, meta = generate_field(s, config, scheme=scheme)
            group = (
                "mostly_unhealthy"
                if meta["num_unhealthy"] > meta["num_healthy"]
                else "mostly_healthy"
            )
        elif mode == "cell":
            group = classes[i % len(classes)]
            image, mask, meta = generate_cell(s, group, config.difficulty, scheme=scheme)
        else:
            raise ValueError(f"mode={mode!r}: use 'field' or 'cell'")
        out.append(Sample(image, mask, name=f"synthetic_{mode}_{i:05d}", group=group, meta=meta))
    return out


def with_size(config: SyntheticConfig, image_size: int | tuple[int, int]) -> SyntheticConfig:
    """A copy of ``config`` with another ``image_size``."""
    return replace(config, image_size=image_size)
