"""The README's results tables, generated from the committed files under ``results/``.

Each table sits between two markers in ``README.md``::

    <!-- table: NAME (scripts/readme_tables.py writes it from results/) -->
    | ... the table ... |
    <!-- /table: NAME -->

:data:`TABLES` maps every ``NAME`` to the function that writes it (a Markdown table, no
trailing newline). ``scripts/readme_tables.py`` rewrites the tables in place;
``tests/test_readme_tables.py`` fails when a table in the README differs from what the files
give, so no number in these tables is typed by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .scorings import format_interval

#: The scorings of the Herlev recipe table: (row label, folder under results/).
CV_ROWS = (
    ("herlev-best, 5-fold CV (every image once)", "herlev-best-cv"),
    ("herlev-best, fold 0", "herlev-best-ablation/recipe-tta-f0"),
    ("herlev-best without TTA, fold 0", "herlev-best-ablation/recipe-f0"),
    ("herlev-scale-true, 5-fold CV (same folds)", "herlev-scale-true-cv"),
    ("herlev-scale-true-fine (0.134 um/px), 5-fold CV (same folds)", "herlev-scale-true-fine-cv"),
    (
        "herlev-scale-true-fine with --one-nucleus, 5-fold CV",
        "herlev-scale-true-fine-cv/one-nucleus",
    ),
    ("baseline (no image head, no TTA), fold 0", "herlev-best-ablation/baseline-f0"),
)
#: (column, taxonomy, class, metric, statistic) of that table.
CV_COLUMNS = (
    ("nucleus Dice", "herlev3", "nucleus", "dice", "interval"),
    ("cytoplasm Dice", "herlev3", "cytoplasm", "dice", "interval"),
    ("mean IoU (cyto, nucleus)", "herlev3", "macro", "iou", "interval"),
    ("nucleus HD95 median (px)", "herlev3", "nucleus", "hd95", "median"),
    ("healthy cell Dice", "paper_cells", "healthy", "dice", "interval"),
    ("unhealthy cell Dice", "paper_cells", "unhealthy", "dice", "interval"),
)
_MARKER = re.compile(
    r"(<!-- table: (?P<name>[\w-]+) [^>]*-->\n)(?P<body>.*?)(\n<!-- /table: (?P=name) -->)",
    re.DOTALL,
)


def _markdown(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _results(root: Path | None) -> Path:
    from papseg_utils.book.profiles import project_file

    return Path(root) if root is not None else project_file("results")


def cv_table(root: Path | None = None) -> str:
    """The Herlev recipe's scorings (:data:`CV_ROWS`): per-image means with their intervals."""
    rows = []
    for label, folder in CV_ROWS:
        s = pd.read_csv(_results(root) / folder / "summary.csv")
        s = s.set_index(["scheme", "class", "metric"])
        n = int(s.loc[("herlev3", "nucleus", "dice"), "n"])
        row = {"scoring": label, "images": n}
        for col, *key, stat in CV_COLUMNS:
            key = tuple(key)
            if key not in s.index or pd.isna(s.loc[key, "mean"]):
                row[col] = "–"
            elif stat == "median":
                row[col] = f"{s.loc[key, 'median']:.2f}"
            else:
                row[col] = format_interval(s.loc[key])
        rows.append(row)
    return _markdown(pd.DataFrame(rows))


def distilled_table(root: Path | None = None) -> str:
    """Distilled SegFormer against scratch and against the U-Net: paired per-image Dice."""
    from papseg_utils.distill.report import load_runs, paired_table

    paired = paired_table(load_runs(_results(root) / "distilled-vs-scratch"))
    wanted = ("distilled - scratch", "distilled - U-Net Lite0")
    classes = {"nucleus": "nucleus", "cytoplasm": "cytoplasm", "unhealthy": "unhealthy cells",
               "healthy": "healthy cells"}  # fmt: skip
    rows = []
    for comparison in wanted:
        for fraction in sorted(paired.fraction.unique(), reverse=True):
            sub = paired[(paired.comparison == comparison) & (paired.fraction == fraction)]
            row = {"data": f"{fraction:.0%}".replace("%", " %"), "comparison": comparison}
            for cls, col in classes.items():
                r = sub[sub["class"] == cls].iloc[0]
                row[col] = f"{r['mean_diff']:+.3f} [{r['low']:.3f}, {r['high']:.3f}] (n {r['n']})"
            rows.append(row)
    return _markdown(pd.DataFrame(rows))


#: The architecture board's columns, split into two tables that fit the book's page width.
ARCHITECTURE_TABLES = (
    ("model", "family", "nucleus Dice", "cytoplasm Dice", "nucleus HD95 (px)",
     "nucleus Dice vs U-Net"),
    ("model", "healthy cell Dice", "unhealthy cell Dice", "image head", "params (M)", "GMACs",
     "s / epoch", "ms / image"),
)  # fmt: skip


def _architecture_board(root: Path | None, folder: str) -> pd.DataFrame:
    """:func:`~papseg_utils.results.architecture_board` of the study in ``results/folder``."""
    from .architectures import architecture_board, load_architecture_study

    return architecture_board(load_architecture_study(_results(root) / folder))


def architectures_table(root: Path | None = None) -> str:
    """The architecture study's leaderboard (:func:`~papseg_utils.results.architecture_board`),
    as two tables (:data:`ARCHITECTURE_TABLES`; columns the board lacks are left out)."""
    board = _architecture_board(root, "architectures")
    parts = [board[[c for c in cols if c in board]] for cols in ARCHITECTURE_TABLES]
    return "\n\n".join(_markdown(part) for part in parts)


#: The columns of the top three's table on all five folds (one table: three rows, no costs).
FIVE_FOLD_COLUMNS = ("model", "family", "images", "nucleus Dice", "cytoplasm Dice",
                     "nucleus HD95 (px)", "image head", "nucleus Dice vs U-Net")  # fmt: skip


def architectures_five_folds_table(root: Path | None = None) -> str:
    """The top three of the architecture study on all five CV folds
    (``results/architectures/five-folds``, the same board as :func:`architectures_table`)."""
    board = _architecture_board(root, "architectures/five-folds")
    return _markdown(board[[c for c in FIVE_FOLD_COLUMNS if c in board]])


def herlev_cpu_table(root: Path | None = None) -> str:
    """The ``herlev-cpu`` study's runs with the ``medical`` policy at 100 % of the data
    (:func:`~papseg_utils.results.leaderboard`: per-image means with their intervals, HD95 in
    um, sorted by the mean foreground Dice as the results chapter's leaderboard is)."""
    from .study import leaderboard, load_study

    board = leaderboard(load_study(_results(root) / "herlev-cpu").results, metrics=("dice", "hd95"),
                        scheme="herlev3", data_fraction=1.0, augmentation="medical")  # fmt: skip
    model = board.run + ", seed " + board.seed.astype(int).astype(str)
    return _markdown(pd.DataFrame({
        "model": model, "family": board.family, "nucleus Dice": board["nucleus dice"],
        "cytoplasm Dice": board["cytoplasm dice"],
        "nucleus HD95, mean (um)": board["nucleus hd95"],
        "cytoplasm HD95, mean (um)": board["cytoplasm hd95"],
    }))  # fmt: skip


#: The columns of the data-efficiency table (:func:`~papseg_utils.results.efficiency_board`).
#: The pretrained start (``start``) is left out to fit the page: ImageNet for the U-Net, the
#: distilled MiT-b0 for SegFormer, as the paragraph above the table says.
EFFICIENCY_COLUMNS = ("architecture", "data", "training images", "nucleus Dice, pretrained",
                      "nucleus Dice, scratch", "nucleus gain", "cytoplasm gain")  # fmt: skip


def data_efficiency_table(root: Path | None = None) -> str:
    """Pretrained against scratch at 10-100 % of the training images at true scale
    (``results/data-efficiency``: :func:`~papseg_utils.results.efficiency_board`)."""
    from .efficiency import efficiency_board, load_efficiency_study

    board = efficiency_board(load_efficiency_study(_results(root) / "data-efficiency"))
    return _markdown(board[list(EFFICIENCY_COLUMNS)])


TABLES: dict[str, Callable[..., str]] = {
    "herlev-cv": cv_table,
    "distilled-vs-scratch": distilled_table,
    "architectures": architectures_table,
    "architectures-five-folds": architectures_five_folds_table,
    "data-efficiency": data_efficiency_table,
    "herlev-cpu": herlev_cpu_table,
}


def update_tables(text: str, root: Path | None = None) -> tuple[str, list[str]]:
    """``text`` with every marked table regenerated, and the names of the tables that changed.

    ``ValueError`` names a marker whose table :data:`TABLES` does not know, or a table of
    :data:`TABLES` that ``text`` lacks.
    """
    found = [m["name"] for m in _MARKER.finditer(text)]
    unknown = sorted(set(found) - set(TABLES))
    missing = sorted(set(TABLES) - set(found))
    if unknown or missing:
        raise ValueError(
            f"README table markers: unknown {unknown}, missing {missing}; known tables are "
            f"{sorted(TABLES)} (see papseg_utils/results/readme.py)"
        )
    changed = []

    def _sub(m: re.Match) -> str:
        body = TABLES[m["name"]](root)
        if body != m["body"]:
            changed.append(m["name"])
        return m.group(1) + body + m.group(4)

    return _MARKER.sub(_sub, text), changed
