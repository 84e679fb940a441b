"""The stains the generator paints: names and optical densities."""

from __future__ import annotations

import numpy as np

# Optical density (per unit concentration) of each stain in R, G, B.
_OD_HAEMATOXYLIN = np.array([0.65, 0.80, 0.30], dtype=np.float32)  # blue-purple
_OD_EOSIN = np.array([0.10, 0.55, 0.38], dtype=np.float32)  # pink-orange (eosin + orange G)
_OD_GREEN = np.array([0.52, 0.18, 0.28], dtype=np.float32)  # light green SF -> cyan-green
_OD_LILAC = np.array([0.33, 0.38, 0.14], dtype=np.float32)  # mixed stain of metaplastic cells
STAINS = ("haematoxylin", "eosin", "green", "lilac")
"""Stain names; a cell's ``stain`` is an index into this tuple."""
STAIN_OD = np.stack([_OD_HAEMATOXYLIN, _OD_EOSIN, _OD_GREEN, _OD_LILAC])
"""(4, 3) float32: the OD of each stain of :data:`STAINS` (rows) in R, G, B (columns)."""
