"""Fields of view, Herlev-like single-cell crops and lists of samples, each from a seed."""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from papseg_utils.data.base import Sample
from papseg_utils.data.synthetic.cells import Cell, make_cell
from papseg_utils.data.synthetic.config import CELL_TYPES, SyntheticConfig
from papseg_utils.data.synthetic.labelling import labels_from_layers
from papseg_utils.data.synthetic.render import render
from papseg_utils.data.synthetic.stains import STAINS


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
    cells: list[Cell] = []
    placed: list[tuple[float, float, float]] = []
    for _ in range(n):
        healthy = bool(rng.uniform() >= config.unhealthy_fraction)
        radius, nc, stain, elong = _cell_parameters(rng, healthy, scale)
        centre = _place(rng, (h, w), radius, placed, min_gap)
        placed.append((*centre, radius))
        cells.append(make_cell(rng, centre, radius, healthy, stain, nc, elong))
    n_rub = int(round(rng.integers(4, 13) * config.rubbish_amount))
    image, layers = render(rng, (h, w), cells, n_rub, level, max(scale, 0.5))
    mask = labels_from_layers(layers, scheme)
    return image, mask, _field_meta(seed, level, cells, n_rub, layers)


def _cell_parameters(rng: np.random.Generator, healthy: bool, scale: float):
    """``(radius px, nucleus-to-cell area ratio, stain index, elongation)`` of one field cell."""
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
    return radius, nc, stain, elong


def _place(rng: np.random.Generator, shape: tuple[int, int], radius: float,
           placed: list[tuple[float, float, float]], min_gap: float) -> tuple[float, float]:  # fmt: skip
    """A centre ``(x, y)`` at least ``min_gap`` x the sum of radii from every placed cell.

    Twelve tries; the last one is kept when none fits (cells may then overlap more).
    """
    h, w = shape
    for _try in range(12):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        if all(
            (cx - px) ** 2 + (cy - py) ** 2 >= (min_gap * (radius + pr)) ** 2
            for px, py, pr in placed
        ):
            break
    return cx, cy


def _field_meta(seed: int, level: float, cells: list[Cell], n_rub: int, layers: dict) -> dict:
    """The ``meta`` of :func:`generate_field` (its docstring lists the keys)."""
    return {
        "seed": int(seed),
        "difficulty": level,
        "num_cells": len(cells),
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
    stain = STAINS.index(stain_name)
    if rng.uniform() < 0.2:  # stain variation within a class
        stain = STAINS.index("lilac") if stain_name != "lilac" else STAINS.index("green")
    main = make_cell(rng, centre, radius, health == "healthy", stain, nc, elong)
    cells = []
    for _ in range(int(rng.integers(0, 3))):  # neighbours peeking in from the edges
        ang = rng.uniform(0, 2 * np.pi)
        d = radius * rng.uniform(1.5, 2.1)
        c = (centre[0] + d * np.cos(ang) * np.sqrt(elong), centre[1] + d * np.sin(ang))
        cells.append(
            make_cell(rng, c, radius * rng.uniform(0.7, 1.1), health == "healthy", stain, nc, 1.2)
        )
    cells.append(main)
    image, _ = render(rng, (h, w), cells, int(rng.integers(0, 4)), level, max(radius / 30, 0.8))
    # mask of the centre cell only
    _, layers = render(np.random.default_rng(0), (h, w), [main], 0, 0.0, 1.0)
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
