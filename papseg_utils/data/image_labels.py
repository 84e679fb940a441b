"""Image-level labels for an image head: which class each whole image (cell) belongs to.

Herlev images each show one cell, and the diagnostic class of the image is
the class of that cell. An image head (:mod:`papseg_utils.models.heads`)
learns it beside the pixel masks; the paper's taxonomy (background / healthy
cell / unhealthy cell) then follows from the cell pixels and this one label
(:func:`papseg_utils.postprocess.cells_from_image_head`).

Kinds
-----
``"none"``
    No image head.
``"health"``
    Two classes, ``healthy`` (0) and ``unhealthy`` (1), from the Herlev
    diagnostic class: the three normal classes are healthy, the four
    dysplasia / carcinoma classes unhealthy. Ids 0 and 1 are the paper_cells
    class ids minus one (healthy = 1, unhealthy = 2 there).
``"diagnosis"``
    One class per sample group (the seven Herlev classes, sorted by name).
"""

from __future__ import annotations

from collections.abc import Sequence

from papseg_utils.data.base import Sample

IMAGE_HEADS: tuple[str, ...] = ("none", "health", "diagnosis")
HEALTH_CLASSES: tuple[str, ...] = ("healthy", "unhealthy")


def image_label_names(kind: str, samples: Sequence[Sample] = ()) -> list[str]:
    """Class names of the image head ``kind`` (``[]`` for ``"none"``)."""
    if kind not in IMAGE_HEADS:
        raise ValueError(f"image_head={kind!r}: use one of {list(IMAGE_HEADS)}")
    if kind == "none":
        return []
    if kind == "health":
        return list(HEALTH_CLASSES)
    return sorted({str(s.group) for s in samples})


def image_labels(samples: Sequence[Sample], kind: str) -> tuple[list[int] | None, list[str]]:
    """One int label per sample for the image head ``kind``, and the label names.

    Returns ``(None, [])`` for ``"none"``. Raises ``ValueError`` when a sample's
    group has no health status (``"health"`` needs Herlev's class folders).
    """
    from papseg_utils.data.herlev import HEALTHY_CLASSES, UNHEALTHY_CLASSES

    names = image_label_names(kind, samples)
    if kind == "none":
        return None, names
    if kind == "diagnosis":
        index = {g: i for i, g in enumerate(names)}
        return [index[str(s.group)] for s in samples], names
    labels = []
    for s in samples:
        if s.group in HEALTHY_CLASSES:
            labels.append(0)
        elif s.group in UNHEALTHY_CLASSES:
            labels.append(1)
        else:
            raise ValueError(
                f"sample {s.name!r} has group {s.group!r}, which is not a Herlev diagnostic class; "
                "image_head='health' needs Herlev (normal_* healthy, dysplastic/carcinoma unhealthy). "
                "Use image_head='diagnosis' for other grouped data, or 'none'."
            )
    return labels, names
