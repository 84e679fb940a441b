"""Painting a field: stain concentrations of cells and rubbish, then the microscope's optics.

:func:`render` draws from ``rng`` in a fixed order (textures, rubbish, optics), so a seed
gives the same image bit for bit; the helpers below keep that order.
"""

from __future__ import annotations

import cv2
import numpy as np

from papseg_utils.data.synthetic.cells import Cell, star_polygon
from papseg_utils.data.synthetic.stains import STAIN_OD

# ----------------------------------------------------------------------------- textures


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]-ish: a small random grid upsampled bicubically."""
    h, w = shape
    gh, gw = max(2, h // cells), max(2, w // cells)
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _textures(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) float32 low-frequency texture and unit-variance fine grain."""
    h, w = shape
    tex_low = _smooth_noise(rng, shape, 12)
    tex_fine = rng.standard_normal((h, w)).astype(np.float32)
    tex_fine = cv2.GaussianBlur(tex_fine, (0, 0), 0.8)
    tex_fine *= 1.0 / max(float(tex_fine.std()), 1e-6)
    return tex_low, tex_fine


def _fill(shape: tuple[int, int], poly: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Rasterise ``poly`` into a (h, w) uint8 {0,1} array covering ``box`` = (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.fillPoly(canvas, [poly - np.array([x0, y0], dtype=np.int32)], 1)
    return canvas


def _box(poly: np.ndarray, shape: tuple[int, int], pad: int = 2) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) bounding box of ``poly`` (K, 2) plus ``pad`` px, clipped to ``shape``."""
    h, w = shape
    x0 = int(max(0, poly[:, 0].min() - pad))
    y0 = int(max(0, poly[:, 1].min() - pad))
    x1 = int(min(w, poly[:, 0].max() + pad + 1))
    y1 = int(min(h, poly[:, 1].max() + pad + 1))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


# ----------------------------------------------------------------------------- cells


def _paint_cells(
    conc: np.ndarray, cells: list[Cell], tex_low: np.ndarray, tex_fine: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add the cells' stains to ``conc`` (4, H, W) float32 in place (draws nothing).

    Returns (H, W) uint8 counts of healthy and of unhealthy cells over each pixel and the
    (H, W) bool nucleus layer.
    """
    shape = conc.shape[1:]
    n_healthy = np.zeros(shape, dtype=np.uint8)
    n_unhealthy = np.zeros(shape, dtype=np.uint8)
    nucleus = np.zeros(shape, dtype=bool)
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
    return n_healthy, n_unhealthy, nucleus


# ----------------------------------------------------------------------------- rubbish
# Each painter draws one object centred at (cx, cy) px, ``s`` its size scale: it marks the
# object's pixels in ``layer`` (H, W) uint8 and adds its stain to ``conc`` (4, H, W) float32.


def _debris(rng, conc, layer, cx: float, cy: float, s: float) -> None:
    """A debris speck: a small irregular blob of haematoxylin or eosin."""
    r = max(1, int(round(rng.uniform(0.6, 2.2) * s)))
    pts = star_polygon(rng, (cx, cy), r, 0.4, n_points=12, harmonics=2)
    cv2.fillPoly(layer, [pts], 1)
    conc[rng.choice([0, 1])] += layer * rng.uniform(0.6, 1.4)


def _neutrophil(rng, conc, layer, cx: float, cy: float, s: float) -> None:
    """A neutrophil: 2-4 dark lobes and a faint halo."""
    halo_r = max(2, int(round(4.5 * s)))
    cv2.circle(layer, (int(cx), int(cy)), halo_r, 1, -1)
    conc[3] += layer * 0.25
    lobes = np.zeros_like(layer)
    for _lobe in range(int(rng.integers(2, 5))):
        lx = int(cx + rng.normal(0, 1.6 * s))
        ly = int(cy + rng.normal(0, 1.6 * s))
        cv2.circle(lobes, (lx, ly), max(1, int(round(1.6 * s))), 1, -1)
    conc[0] += lobes * 1.4
    layer |= lobes


def _red_cell(rng, conc, layer, cx: float, cy: float, s: float) -> None:
    """A red blood cell: a pale red disc with a central pallor."""
    r = max(2, int(round(rng.uniform(3.2, 4.2) * s)))
    cv2.circle(layer, (int(cx), int(cy)), r, 1, -1)
    inner = np.zeros_like(layer)
    cv2.circle(inner, (int(cx), int(cy)), max(1, r // 2), 1, -1)
    conc[1] += (layer.astype(np.float32) - 0.5 * inner) * 0.55


def _mucus(rng, conc, layer, cx: float, cy: float, s: float) -> None:
    """A mucus strand: a faint green random walk."""
    n = int(rng.integers(4, 8))
    steps = rng.normal(0, 6 * s, size=(n, 2)).cumsum(axis=0)
    pts = np.round(steps + [cx, cy]).astype(np.int32)
    cv2.polylines(layer, [pts], False, 1, thickness=max(1, int(round(1.2 * s))))
    conc[2] += layer * 0.3


_RUBBISH = (_debris, _neutrophil, _red_cell, _mucus)
_RUBBISH_P = [0.35, 0.3, 0.2, 0.15]


def _paint_rubbish(
    rng: np.random.Generator, conc: np.ndarray, count: int, scale: float
) -> np.ndarray:
    """Add ``count`` rubbish objects to ``conc`` (4, H, W) in place; their (H, W) bool layer."""
    h, w = conc.shape[1:]
    rubbish = np.zeros((h, w), dtype=bool)
    for _ in range(count):
        kind = rng.choice(4, p=_RUBBISH_P)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        layer = np.zeros((h, w), dtype=np.uint8)
        _RUBBISH[kind](rng, conc, layer, cx, cy, scale)
        rubbish |= layer.astype(bool)
    return rubbish


# ----------------------------------------------------------------------------- optics


def _microscope(rng: np.random.Generator, conc: np.ndarray, level: float) -> np.ndarray:
    """Stain concentrations (4, H, W) float32 -> (H, W, 3) uint8 bright-field image.

    Beer-Lambert with jittered stain vectors, a faint mounting-medium tint, defocus,
    uneven illumination, contrast loss, exposure and sensor noise, all scaled by ``level``.
    """
    h, w = conc.shape[1:]
    jitter = 0.04 + 0.18 * level
    od = STAIN_OD * rng.uniform(1 - jitter, 1 + jitter, size=STAIN_OD.shape).astype(np.float32)
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
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- a field


def render(
    rng: np.random.Generator,
    shape: tuple[int, int],
    cells: list[Cell],
    rubbish_count: int,
    level: float,
    rubbish_scale: float,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Paint cells and rubbish; return the (H, W, 3) uint8 image and boolean layers.

    The layers are (H, W) bool ``healthy``, ``unhealthy``, ``nucleus`` and ``rubbish``, and
    (H, W) uint8 ``healthy_count`` (how many healthy cells cover each pixel).
    """
    h, w = shape
    conc = np.zeros((4, h, w), dtype=np.float32)
    tex_low, tex_fine = _textures(rng, shape)
    n_healthy, n_unhealthy, nucleus = _paint_cells(conc, cells, tex_low, tex_fine)
    rubbish = _paint_rubbish(rng, conc, rubbish_count, rubbish_scale)
    image = _microscope(rng, conc, level)
    layers = {
        "healthy": n_healthy > 0,
        "unhealthy": n_unhealthy > 0,
        "nucleus": nucleus,
        "rubbish": rubbish,
        "healthy_count": n_healthy,
    }
    return image, layers
