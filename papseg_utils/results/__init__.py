"""Reading and comparing results: study tables, the evaluate command's scorings, their figures.

The functions turn the tables into the comparisons of the results chapter: a leaderboard, the
data-efficiency curve of pre-trained vs scratch, the architecture families, augmentation, region
vs boundary quality, and paired tests on the same test images (:mod:`.study`); the
cross-validated recipe's scorings (:mod:`.scorings`); the project's targets (:mod:`.targets`);
the figures (:mod:`.plots`); the architecture study at true scale (:mod:`.architectures`), its
data efficiency (:mod:`.efficiency`) and
the README's tables (:mod:`.readme`). Every paired table is
:func:`papseg_utils.metrics.stats.paired_differences` on the images both arms scored, a correct
empty answer paired at the perfect value (:func:`papseg_utils.metrics.catalog.metric_pairs`). Everything
is re-exported here: ``from papseg_utils import results as R`` then ``R.leaderboard(...)``.
"""

from .architectures import (
    ArchitectureStudy,
    architecture_board,
    load_architecture_study,
    missed_nuclei,
    paper_claims,
    start_gains,
)
from .efficiency import (
    EfficiencyStudy,
    efficiency_board,
    efficiency_claim,
    load_efficiency_study,
    plot_efficiency,
)
from .plots import (
    plot_data_efficiency,
    plot_forest,
    plot_leaderboard,
    plot_region_vs_boundary,
)
from .scorings import (
    Scoring,
    by_group,
    load_scoring,
    paired_gains,
    scoring_means,
    scoring_table,
)
from .study import (
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
    varying,
)
from .targets import CV_TARGETS, Target, cv_targets, target_check, target_name, targets_text

__all__ = [
    "ArchitectureStudy",
    "CV_TARGETS",
    "EfficiencyStudy",
    "Scoring",
    "StudyTables",
    "Target",
    "architecture_board",
    "best_run",
    "by_group",
    "compact_board",
    "cv_targets",
    "efficiency_board",
    "efficiency_claim",
    "format_tests",
    "label",
    "leaderboard",
    "load_architecture_study",
    "load_efficiency_study",
    "load_scoring",
    "load_study",
    "metric_correlation",
    "paired_comparisons",
    "paper_claims",
    "missed_nuclei",
    "start_gains",
    "paired_gains",
    "per_image_values",
    "plot_data_efficiency",
    "plot_efficiency",
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
