"""Reading the ``evaluate`` command's outputs (scorings): tables side by side, paired gains
between scorings, per-group means. The targets are checked by :mod:`.targets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from papseg_utils.metrics.catalog import (
    SCORING_COLUMNS,
    SUMMARY_COLUMNS,
    check_columns,
    metric_label,
    metric_pairs,
    metric_record,
)

from .study import unique_names
from .targets import CV_TARGETS

#: The rows of :func:`scoring_means` and :func:`scoring_table`: the targets' (taxonomy, class,
#: metric, statistic), without the goals.
TARGET_ROWS: tuple[tuple[str, str, str, str], ...] = tuple(t[:4] for t in CV_TARGETS)
#: What :func:`paired_gains` compares by default: (taxonomy, class, metric).
GAIN_KEYS: tuple[tuple[str, str, str], ...] = (
    ("herlev3", "nucleus", "dice"),
    ("herlev3", "cytoplasm", "dice"),
    ("herlev3", "nucleus", "hd95"),
    ("paper_cells", "healthy", "dice"),
    ("paper_cells", "unhealthy", "dice"),
)


def scoring_means(
    summaries: dict[str, pd.DataFrame],
    rows: Sequence[tuple[str, str, str, str]] = TARGET_ROWS,
    digits: int = 3,
) -> pd.DataFrame:
    """Scorings side by side as numbers: one column per scoring, one row per target.

    ``summaries`` maps a column name to an evaluate ``summary.csv``; ``rows``
    are ``(taxonomy, class, metric, statistic)``. NaN where a scoring lacks
    the row (e.g. no image head: no healthy/unhealthy cells). Intervals are
    left out to keep the table narrow; :func:`scoring_table` has them.
    """
    index = [f"{cls} {metric_label(metric)} ({stat})" for _, cls, metric, stat in rows]
    out = {}
    for name, summ in summaries.items():
        s = summ.set_index(["scheme", "class", "metric"])
        out[name] = [
            float(s.loc[(t, c, m), stat]) if (t, c, m) in s.index else np.nan
            for t, c, m, stat in rows
        ]
    return pd.DataFrame(out, index=pd.Index(index, name="target")).round(digits)


# --------------------------------------------------------------------------- evaluate folders


@dataclass
class Scoring:
    """The files the ``evaluate`` command writes (see :mod:`papseg_utils.evaluate`)."""

    per_image: pd.DataFrame
    summary: pd.DataFrame
    image_labels: pd.DataFrame | None
    record: dict
    source: Path


def per_image_table(folder: str | Path) -> pd.DataFrame:
    """``per_image.csv.gz`` (committed results) or ``per_image.csv`` (``evaluate``'s own output).

    ``FileNotFoundError`` naming the folder when neither is there, ``ValueError`` naming the
    file when it lacks a column of :data:`~papseg_utils.metrics.catalog.SCORING_COLUMNS`.
    """
    folder = Path(folder)
    found = next(
        (folder / n for n in ("per_image.csv.gz", "per_image.csv") if (folder / n).is_file()), None
    )
    if found is None:
        raise FileNotFoundError(
            f"{folder}: no per_image.csv(.gz); write it with "
            f"`python -m papseg_utils evaluate ... --out {folder}`"
        )
    return check_columns(pd.read_csv(found), SCORING_COLUMNS, str(found))


def load_scoring(folder: str | Path) -> Scoring:
    """Read ``per_image.csv`` (or ``.csv.gz``), ``summary.csv``, ``image_labels.csv`` and ``scoring.json``.

    ``ValueError`` naming the file when a table lacks a column of
    :data:`~papseg_utils.metrics.catalog.SCORING_COLUMNS` or ``SUMMARY_COLUMNS``.
    """
    import json

    from papseg_utils.book.profiles import project_file

    folder = project_file(folder)
    if not (folder / "summary.csv").is_file():
        raise FileNotFoundError(
            f"{folder}: no summary.csv; write it with "
            f"`python -m papseg_utils evaluate ... --out {folder}`"
        )
    per_image = per_image_table(folder)
    labels = folder / "image_labels.csv"
    record = folder / "scoring.json"
    return Scoring(
        per_image,
        check_columns(
            pd.read_csv(folder / "summary.csv"), SUMMARY_COLUMNS, str(folder / "summary.csv")
        ),
        pd.read_csv(labels) if labels.is_file() else None,
        json.loads(record.read_text()) if record.is_file() else {},
        folder,
    )


def scoring_table(
    summaries: dict[str, pd.DataFrame],
    rows: Sequence[tuple[str, str, str]] = tuple(r[:3] for r in TARGET_ROWS),
) -> pd.DataFrame:
    """One column per scoring (``{label: summary}``), one row per (taxonomy, class, metric):
    ``mean [low, high]`` per image; distance rows (HD95, in px) add the median."""
    out = {}
    for name, summ in summaries.items():
        s = summ.set_index(["scheme", "class", "metric"])
        col = []
        for key in rows:
            if key not in s.index:
                col.append("")
                continue
            r = s.loc[key]
            text = format_interval(r)
            if _is_distance(key[2]):
                text += f"; median {r['median']:.2f}"
            col.append(text)
        out[name] = col
    index = pd.MultiIndex.from_tuples(
        [(t, c, metric_label(m) + (" (px)" if _is_distance(m) else "")) for t, c, m in rows],
        names=["taxonomy", "class", "metric"],
    )
    return pd.DataFrame(out, index=index)


def format_interval(row, digits: int = 3) -> str:
    """``"mean [low, high]"`` of a summary row (anything with those keys), ``digits`` decimals."""
    return f"{row['mean']:.{digits}f} [{row['low']:.{digits}f}, {row['high']:.{digits}f}]"


def format_difference(row) -> str:
    """``"+mean [+low, +high]"`` of a paired row (``mean_diff``, ``low``, ``high``), 3 decimals."""
    return f"{row['mean_diff']:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]"


def _is_distance(name: str) -> bool:
    return metric_record(name).kind == "distance"


def paired_gains(
    tables: dict[str, pd.DataFrame],
    pairs: Sequence[tuple[str, str, str]],
    keys: Sequence[tuple[str, str, str]] = GAIN_KEYS,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired gains ``B - A`` on the images both scored, for each ``(name, A, B)`` of ``pairs``.

    An image where one arm rightly predicts none of a class the image lacks (``both_empty``)
    and the other predicts some is kept, the correct arm at the metric's perfect value
    (:func:`papseg_utils.metrics.catalog.metric_pairs`); dropping it would hide the other
    arm's error from the comparison.

    ``tables`` maps a label to a per-image table of the evaluate command. Each pair and key
    selects the two scorings' values per image and hands them to
    :func:`papseg_utils.metrics.stats.paired_differences`. Columns: ``comparison``,
    ``taxonomy``, ``class``, ``metric``, then ``n`` images, ``mean_a``, ``mean_b`` (on those
    images), ``mean_diff`` with its bootstrap 95 % interval ``low``, ``high``,
    ``median_diff``, ``rank_biserial``, the Wilcoxon ``p_value`` and ``p_holm`` (Holm over
    all rows). A pair whose tables lack a key is skipped.
    """
    from papseg_utils.metrics.stats import paired_differences

    unique_names(pairs)
    frames = []
    for name, a, b in pairs:
        for scheme, cls, metric in keys:
            joined = metric_pairs(tables[a], tables[b], cls, metric, scheme)
            frames.append(joined.assign(comparison=name, taxonomy=scheme, metric=metric,
                                        **{"class": cls}))  # fmt: skip
    values = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["a", "b"])
    by = ["comparison", "taxonomy", "class", "metric"]
    return paired_differences(values, by, n_boot=n_boot, seed=seed)


def by_group(
    per_image: pd.DataFrame, scheme: str = "herlev3", metric: str = "dice"
) -> pd.DataFrame:
    """Per-image mean of ``metric`` per diagnostic class (the folder part of the image name) and class."""
    t = per_image[(per_image.scheme == scheme) & (per_image.metric == metric)]
    t = t.assign(group=t["image"].str.split("/").str[0])
    table = t.pivot_table(index="group", columns="class", values="value", aggfunc="mean")
    table.insert(0, "images", t.groupby("group")["image"].nunique())
    return table
