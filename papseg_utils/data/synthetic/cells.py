"""Cells as random star-shaped polygons: cytoplasm, nucleus and stain densities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Cell:
    """One cell: polygons in px (x, y), its health, stain and densities."""

    cyto: np.ndarray  # (K, 2) int32 polygon, x y
    nucleus: np.ndarray  # (K, 2) int32 polygon
    healthy: bool
    stain: int  # index into stains.STAINS
    density: float
    nuc_density: float
    coarse: float  # chromatin coarseness 0..1


def star_polygon(
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


def make_cell(
    rng: np.random.Generator,
    centre: tuple[float, float],
    radius: float,
    healthy: bool,
    stain: int,
    nc_ratio: float,
    elongation: float,
) -> Cell:
    """A cell of ``radius`` px at ``centre`` (x, y) whose nucleus follows the N/C area ratio.

    Healthy cells are flatter with small round nuclei; unhealthy ones get irregular
    nuclei; an ``elongation`` above 1.5 (columnar cells) puts the nucleus towards one end.
    """
    irregular = 0.10 if healthy else 0.06
    cyto = star_polygon(rng, centre, radius, irregular * 2.2, elongation, harmonics=5)
    # nucleus radius from the N/C area ratio (area ~ r^2)
    r_nuc = radius * np.sqrt(nc_ratio) * 1.05
    shift = radius * (0.12 if healthy else 0.2) * (1.0 - np.sqrt(nc_ratio))
    if elongation > 1.5:  # columnar cells: nucleus towards one end
        shift = radius * 0.5
    off = rng.normal(0.0, shift, size=2)
    nuc_el = rng.uniform(1.0, 1.25) if healthy else rng.uniform(1.0, 1.6)
    nucleus = star_polygon(
        rng,
        (centre[0] + off[0], centre[1] + off[1]),
        r_nuc,
        0.04 if healthy else rng.uniform(0.12, 0.3),
        nuc_el,
        n_points=32,
        harmonics=3 if healthy else 5,
    )
    return Cell(
        cyto=cyto,
        nucleus=nucleus,
        healthy=healthy,
        stain=stain,
        density=rng.uniform(0.25, 0.45) if stain != 3 else rng.uniform(0.35, 0.6),
        nuc_density=rng.uniform(0.9, 1.2) if healthy else rng.uniform(1.2, 1.6),
        coarse=rng.uniform(0.1, 0.3) if healthy else rng.uniform(0.4, 0.8),
    )
