"""From pixel predictions to the paper's per-cell taxonomy.

The paper's task (``paper_cells``: background / healthy cell / unhealthy cell)
asks whether each *cell* is healthy. A pixel classifier answers per pixel and
can split one cell into a healthy half and an unhealthy half. Two fixes, both
giving every connected cell a single class:

* :func:`cells_from_image_head` - a one-cell image (Herlev) whose cell pixels
  come from any segmentation (e.g. ``herlev3``'s cytoplasm + nucleus) and
  whose class comes from the image head's probability of "unhealthy".
* :func:`vote_per_cell` - many cells per image: each connected foreground
  component takes the class that most of its pixels have (weighted by the
  probabilities when they are given).

Both return ``paper_cells`` ids: 0 background, 1 healthy, 2 unhealthy.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from papseg_utils.labels import get_scheme

BACKGROUND, HEALTHY, UNHEALTHY = 0, 1, 2


def cells_from_image_head(
    pred: np.ndarray, p_unhealthy: float, threshold: float = 0.5, background: int = 0
) -> np.ndarray:
    """Colour every cell pixel of ``pred`` by the image head's verdict.

    Parameters
    ----------
    pred : (H, W) integer array
        Predicted class ids of any scheme; every id other than ``background``
        is a cell pixel.
    p_unhealthy : float in [0, 1]
        The image head's probability that the image's cell is unhealthy.
    threshold : float
        ``p_unhealthy >= threshold`` is unhealthy.
    background : int
        The background id of ``pred``'s scheme.

    Returns
    -------
    (H, W) uint8 array of ``paper_cells`` ids (0, 1 or 2).
    """
    if not 0.0 <= float(p_unhealthy) <= 1.0:
        raise ValueError(f"p_unhealthy={p_unhealthy}: a probability must lie in [0, 1]")
    pred = np.asarray(pred)
    if pred.ndim != 2:
        raise ValueError(f"pred must be (H, W), got shape {pred.shape}")
    cell = UNHEALTHY if float(p_unhealthy) >= threshold else HEALTHY
    return np.where(pred != background, cell, BACKGROUND).astype(np.uint8)


def vote_per_cell(
    pred: np.ndarray, probs: np.ndarray | None = None, connectivity: int = 2
) -> np.ndarray:
    """Give each connected cell one class, by majority of its pixels.

    Parameters
    ----------
    pred : (H, W) integer array of ``paper_cells`` ids (0 background, 1, 2).
    probs : optional (3, H, W) float array of ``paper_cells`` probabilities; the
        vote then sums ``probs[1]`` against ``probs[2]`` over the component
        (a soft vote) instead of counting pixels.
    connectivity : 1 (4-neighbours) or 2 (8-neighbours) for the components.

    Returns
    -------
    (H, W) uint8 array: background kept, every foreground component all 1 or
    all 2 (ties go to unhealthy, the costlier class to miss).
    """
    pred = np.asarray(pred)
    if pred.ndim != 2:
        raise ValueError(f"pred must be (H, W), got shape {pred.shape}")
    get_scheme("paper_cells").check(pred, where="pred")
    if probs is not None and (
        probs.ndim != 3 or probs.shape[0] != 3 or probs.shape[1:] != pred.shape
    ):
        raise ValueError(f"probs must be (3, {pred.shape[0]}, {pred.shape[1]}), got {probs.shape}")
    fg = pred != BACKGROUND
    structure = ndimage.generate_binary_structure(2, connectivity)
    comp, n = ndimage.label(fg, structure=structure)
    out = np.zeros(pred.shape, np.uint8)
    if n == 0:
        return out
    index = np.arange(1, n + 1)
    if probs is None:
        healthy = ndimage.sum(pred == HEALTHY, comp, index)
        unhealthy = ndimage.sum(pred == UNHEALTHY, comp, index)
    else:
        healthy = ndimage.sum(probs[HEALTHY], comp, index)
        unhealthy = ndimage.sum(probs[UNHEALTHY], comp, index)
    winner = np.where(unhealthy >= healthy, UNHEALTHY, HEALTHY).astype(np.uint8)
    lut = np.concatenate([[BACKGROUND], winner]).astype(np.uint8)
    return lut[comp]


def keep_one_nucleus(probs: np.ndarray, nucleus: int, connectivity: int = 2) -> np.ndarray:
    """Labels of a one-cell crop with a single nucleus region: the most probable one.

    A Herlev image is the crop of one cell: 713 of its 731 development masks hold one
    (8-connected) nucleus region (``results/herlev-morphometric-head/measurements.csv``). A network that sees only part of a large cell may add nucleus blobs
    far from the nucleus, which a distance metric (HD95) punishes hardest. This keeps the
    nucleus region with the largest summed nucleus probability and gives the pixels of
    every other nucleus region their most probable other class.

    Parameters
    ----------
    probs : (C, H, W) float class probabilities.
    nucleus : the nucleus class id (``scheme.classes.index("nucleus")``).
    connectivity : 1 (4-neighbours) or 2 (8-neighbours) for the regions.

    Returns
    -------
    (H, W) uint8 labels: ``probs.argmax(0)`` with at most one nucleus region.
    """
    probs = np.asarray(probs)
    if probs.ndim != 3 or not 0 <= int(nucleus) < probs.shape[0]:
        raise ValueError(
            f"probs must be (C, H, W) with the nucleus id {nucleus} < C, got shape {probs.shape}"
        )
    pred = probs.argmax(0).astype(np.uint8)
    regions, n = ndimage.label(pred == nucleus, ndimage.generate_binary_structure(2, connectivity))
    if n <= 1:
        return pred
    mass = ndimage.sum(probs[nucleus], regions, np.arange(1, n + 1))
    drop = (regions > 0) & (regions != int(np.argmax(mass)) + 1)
    others = np.delete(np.arange(probs.shape[0]), int(nucleus))
    pred[drop] = others[probs[others][:, drop].argmax(0)]
    return pred
