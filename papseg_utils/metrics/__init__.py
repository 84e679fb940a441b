"""Segmentation metrics: the catalogue, overlap, boundaries, tidy evaluation and statistics.

Typical use::

    from papseg_utils.metrics import score_images, average
    df = score_images(preds, masks, "herlev3", spacing_um=0.201)
    average(df, reduction="image")

:mod:`papseg_utils.metrics.catalog` holds one record per metric (label, unit, direction, kind)
and the columns of the tables; see :mod:`papseg_utils.metrics.per_image` for the empty-class
policy and :mod:`papseg_utils.metrics.surface` for the exact HD95 definition (medpy's).
"""

from papseg_utils.metrics.catalog import (
    CATALOGUE,
    PER_IMAGE_COLUMNS,
    SCORING_COLUMNS,
    SUMMARY_COLUMNS,
    Metric,
    check_columns,
    entries,
    headline_metrics,
    higher_is_better,
    metric_label,
    metric_names,
    metric_record,
    metric_values,
    summary_metrics,
)
from papseg_utils.metrics.confusion import (
    class_counts,
    confusion_matrix,
    dice_from_confusion,
    iou_from_confusion,
    per_image_counts,
)
from papseg_utils.metrics.overlap import dice_score, iou_score, overlap_from_counts
from papseg_utils.metrics.per_image import EMPTY_POLICIES, average, score_images, wide
from papseg_utils.metrics.stats import bootstrap_ci, holm, paired_differences, paired_test
from papseg_utils.metrics.surface import (
    SurfaceDistances,
    assd,
    boundary_f1,
    hausdorff,
    hd95,
    normalised_surface_dice,
    surface_distances,
)

__all__ = [
    "CATALOGUE",
    "EMPTY_POLICIES",
    "PER_IMAGE_COLUMNS",
    "SCORING_COLUMNS",
    "SUMMARY_COLUMNS",
    "Metric",
    "SurfaceDistances",
    "assd",
    "average",
    "bootstrap_ci",
    "boundary_f1",
    "check_columns",
    "class_counts",
    "confusion_matrix",
    "dice_from_confusion",
    "dice_score",
    "entries",
    "hausdorff",
    "hd95",
    "headline_metrics",
    "higher_is_better",
    "holm",
    "iou_from_confusion",
    "iou_score",
    "metric_record",
    "metric_label",
    "metric_names",
    "metric_values",
    "normalised_surface_dice",
    "overlap_from_counts",
    "paired_differences",
    "paired_test",
    "per_image_counts",
    "score_images",
    "summary_metrics",
    "surface_distances",
    "wide",
]
