"""Dataset statistics for the data chapter: class frequencies, sizes, colours, N/C ratios.

All functions take a list of :class:`~papseg_utils.data.base.Sample` and return
tidy :class:`pandas.DataFrame` objects (one row per observation).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from papseg_utils.data.base import Sample
from papseg_utils.labels import LabelScheme, get_scheme


def class_pixel_frequencies(samples: Sequence[Sample], scheme: str | LabelScheme) -> pd.DataFrame:
    """Pixel count and share of each class over all masks (ignored pixels counted apart).

    Returns columns ``class``, ``id``, ``pixels``, ``share`` (of labelled,
    non-ignored pixels), ``images_present`` (number of images holding the
    class) and ``image_share``; plus an ``ignore`` row when ignored pixels exist.
    """
    scheme = get_scheme(scheme)
    n = scheme.num_classes
    counts = np.zeros(256, dtype=np.int64)
    present = np.zeros(256, dtype=np.int64)
    for s in samples:
        c = np.bincount(s.mask.ravel(), minlength=256)
        counts += c
        present += c > 0
    labelled = counts[:n].sum()
    rows = [
        {
            "class": scheme.classes[i],
            "id": i,
            "pixels": int(counts[i]),
            "share": counts[i] / labelled if labelled else np.nan,
            "images_present": int(present[i]),
            "image_share": present[i] / len(samples) if samples else np.nan,
        }
        for i in range(n)
    ]
    ig = scheme.ignore_index
    if counts[ig]:
        rows.append(
            {
                "class": "ignore",
                "id": ig,
                "pixels": int(counts[ig]),
                "share": np.nan,
                "images_present": int(present[ig]),
                "image_share": present[ig] / len(samples),
            }
        )
    return pd.DataFrame(rows)


def class_presence(samples: Sequence[Sample], scheme: str | LabelScheme) -> pd.DataFrame:
    """Per image: one row per (image, class) with ``pixels`` and ``share`` of the image."""
    scheme = get_scheme(scheme)
    rows = []
    for s in samples:
        c = np.bincount(s.mask.ravel(), minlength=256)
        total = s.mask.size
        for i, name in enumerate(scheme.classes):
            rows.append(
                {
                    "name": s.name,
                    "group": s.group,
                    "class": name,
                    "pixels": int(c[i]),
                    "share": c[i] / total,
                    "present": bool(c[i] > 0),
                }
            )
    return pd.DataFrame(rows)


def image_sizes(samples: Sequence[Sample]) -> pd.DataFrame:
    """One row per image: ``name``, ``group``, ``height``, ``width`` (px), ``aspect`` (w/h)."""
    return pd.DataFrame(
        [
            {
                "name": s.name,
                "group": s.group,
                "height": s.size[0],
                "width": s.size[1],
                "aspect": s.size[1] / s.size[0],
            }
            for s in samples
        ]
    )


def colour_stats(samples: Sequence[Sample], scheme: str | LabelScheme) -> pd.DataFrame:
    """Mean RGB per (image, class).

    Returns one row per (image, class present in it) with ``name``, ``group``,
    ``class``, the ``R``, ``G``, ``B`` means (0-255) and ``pixels``.
    """
    scheme = get_scheme(scheme)
    rows = []
    for s in samples:
        flat_m = s.mask.ravel()
        flat_i = s.image.reshape(-1, 3).astype(np.float64)
        cnt = np.bincount(flat_m, minlength=256)
        sums = np.stack(
            [np.bincount(flat_m, weights=flat_i[:, k], minlength=256) for k in range(3)], 1
        )
        for i, name in enumerate(scheme.classes):
            if cnt[i]:
                r, g, b = sums[i] / cnt[i]
                rows.append(
                    {
                        "name": s.name,
                        "group": s.group,
                        "class": name,
                        "R": r,
                        "G": g,
                        "B": b,
                        "pixels": int(cnt[i]),
                    }
                )
    return pd.DataFrame(rows)


def nc_ratios(
    samples: Sequence[Sample],
    scheme: str | LabelScheme = "herlev3",
    nucleus: str | Sequence[str] = "nucleus",
    cytoplasm: str | Sequence[str] = "cytoplasm",
) -> pd.DataFrame:
    """Nucleus-to-cell area ratio per image: ``N / (N + C)`` (the Herlev definition).

    ``nucleus`` / ``cytoplasm`` name the classes counted as such (several
    allowed, e.g. ``("healthy_nucleus", "unhealthy_nucleus")`` for herlev5).
    For synthetic samples whose meta carries a ``nucleus`` layer, pass masks of
    scheme ``herlev3`` (``generate_samples(..., scheme="herlev3")``).

    Returns columns ``name``, ``group``, ``nucleus_px``, ``cytoplasm_px``, ``nc_ratio``
    (NaN where the image has no cell).
    """
    scheme = get_scheme(scheme)
    nuc = [nucleus] if isinstance(nucleus, str) else list(nucleus)
    cyt = [cytoplasm] if isinstance(cytoplasm, str) else list(cytoplasm)
    ids = scheme.ids
    for c in nuc + cyt:
        if c not in ids:
            raise ValueError(
                f"class {c!r} is not in scheme {scheme.name!r} ({list(scheme.classes)})"
            )
    rows = []
    for s in samples:
        cnt = np.bincount(s.mask.ravel(), minlength=256)
        n = int(sum(cnt[ids[c]] for c in nuc))
        c = int(sum(cnt[ids[k]] for k in cyt))
        rows.append(
            {
                "name": s.name,
                "group": s.group,
                "nucleus_px": n,
                "cytoplasm_px": c,
                "nc_ratio": n / (n + c) if n + c else np.nan,
            }
        )
    return pd.DataFrame(rows)
