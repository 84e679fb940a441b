"""Reading and comparing results: study tables, the evaluate command's scorings, their figures.

The functions turn the tables into the comparisons of the results chapter: a leaderboard, the
data-efficiency curve of pre-trained vs scratch, the architecture families, augmentation, region
vs boundary quality, and paired tests on the same test images (:mod:`.study`); the
cross-validated recipe's scorings (:mod:`.scorings`); the figures (:mod:`.plots`). Everything is
re-exported here: ``from papseg_utils import results as R`` then ``R.leaderboard(...)``.
"""

from .plots import (
    plot_data_efficiency,
    plot_forest,
    plot_leaderboard,
    plot_region_vs_boundary,
)
from .scorings import (
    CV_TARGETS,
    Scoring,
    by_group,
    cv_targets,
    load_scoring,
    paired_gains,
    scoring_means,
    scoring_table,
)
from .study import (
    FAMILY,
    HIGHER_IS_BETTER,
    METRIC_NAMES,
    StudyTables,
    best_run,
    compact_board,
    format_tests,
    label,
    leaderboard,
    load_study,
    metric_correlation,
    paired_comparisons,
    per_image_values,
    run_table,
    seed_summary,
    select,
    target_check,
    target_name,
    targets_text,
    varying,
)

__all__ = [
    "CV_TARGETS",
    "FAMILY",
    "HIGHER_IS_BETTER",
    "METRIC_NAMES",
    "Scoring",
    "StudyTables",
    "best_run",
    "by_group",
    "compact_board",
    "cv_targets",
    "format_tests",
    "label",
    "leaderboard",
    "load_scoring",
    "load_study",
    "metric_correlation",
    "paired_comparisons",
    "paired_gains",
    "per_image_values",
    "plot_data_efficiency",
    "plot_forest",
    "plot_leaderboard",
    "plot_region_vs_boundary",
    "run_table",
    "scoring_means",
    "scoring_table",
    "seed_summary",
    "select",
    "target_check",
    "target_name",
    "targets_text",
    "varying",
]
