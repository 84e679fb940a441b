"""Segmentation metrics: overlap, boundaries, tidy evaluation and statistics.

Typical use::

    from papseg_utils.metrics import score_images, average
    df = score_images(preds, masks, "herlev3", spacing_um=0.201)
    average(df, reduction="image")

See :mod:`papseg_utils.metrics.per_image` for the empty-class policy and
:mod:`papseg_utils.metrics.surface` for the exact HD95 definition (medpy's).
"""

from papseg_utils.metrics.confusion import (
    class_counts,
    confusion_matrix,
    dice_from_confusion,
    iou_from_confusion,
    per_image_counts,
)
from papseg_utils.metrics.overlap import OVERLAP_METRICS, dice_score, iou_score, overlap_from_counts
from papseg_utils.metrics.per_image import (
    ALL_METRICS,
    EMPTY_POLICIES,
    average,
    score_images,
    wide,
)
from papseg_utils.metrics.stats import bootstrap_ci, holm, paired_test
from papseg_utils.metrics.surface import (
    SURFACE_METRICS,
    SurfaceDistances,
    assd,
    boundary_f1,
    hausdorff,
    hd95,
    normalised_surface_dice,
    surface_distances,
)

__all__ = [
    "ALL_METRICS",
    "EMPTY_POLICIES",
    "OVERLAP_METRICS",
    "SURFACE_METRICS",
    "SurfaceDistances",
    "assd",
    "average",
    "bootstrap_ci",
    "boundary_f1",
    "class_counts",
    "confusion_matrix",
    "dice_from_confusion",
    "dice_score",
    "hausdorff",
    "hd95",
    "holm",
    "iou_from_confusion",
    "iou_score",
    "normalised_surface_dice",
    "overlap_from_counts",
    "paired_test",
    "per_image_counts",
    "score_images",
    "surface_distances",
    "wide",
]
