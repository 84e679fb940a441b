"""Reading the ``evaluate`` command's outputs (scorings): cross-validated targets, tables,
paired gains between scorings, per-group means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .study import CV_TARGETS, HIGHER_IS_BETTER, _name, target_name


def scoring_means(
    summaries: dict[str, pd.DataFrame],
    rows: Sequence[tuple[str, str, str, str]] = (
        ("herlev3", "nucleus", "dice", "mean"),
        ("herlev3", "cytoplasm", "dice", "mean"),
        ("herlev3", "macro", "iou", "mean"),
        ("herlev3", "nucleus", "hd95", "median"),
        ("paper_cells", "healthy", "dice", "mean"),
        ("paper_cells", "unhealthy", "dice", "mean"),
    ),  # fmt: skip
    digits: int = 3,
) -> pd.DataFrame:
    """Scorings side by side as numbers: one column per scoring, one row per target.

    ``summaries`` maps a column name to an evaluate ``summary.csv``; ``rows``
    are ``(taxonomy, class, metric, statistic)``. NaN where a scoring lacks
    the row (e.g. no image head: no healthy/unhealthy cells). Intervals are
    left out to keep the table narrow; :func:`scoring_table` has them.
    """
    index = [f"{cls} {_name(metric)} ({stat})" for _, cls, metric, stat in rows]
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


def load_scoring(folder: str | Path) -> Scoring:
    """Read ``per_image.csv`` (or ``.csv.gz``), ``summary.csv``, ``image_labels.csv`` and ``scoring.json``."""
    import json

    from papseg_utils.book.profiles import project_file

    folder = project_file(folder)
    per_image = next(
        (folder / n for n in ("per_image.csv.gz", "per_image.csv") if (folder / n).is_file()), None
    )
    if per_image is None or not (folder / "summary.csv").is_file():
        raise FileNotFoundError(
            f"{folder}: no per_image.csv(.gz) and summary.csv; write them with "
            f"`python -m papseg_utils evaluate ... --out {folder}`"
        )
    labels = folder / "image_labels.csv"
    record = folder / "scoring.json"
    return Scoring(
        pd.read_csv(per_image),
        pd.read_csv(folder / "summary.csv"),
        pd.read_csv(labels) if labels.is_file() else None,
        json.loads(record.read_text()) if record.is_file() else {},
        folder,
    )


def cv_targets(summary: pd.DataFrame, targets=CV_TARGETS) -> pd.DataFrame:
    """Each target with the measured value, its bootstrap 95 % interval (means only), goal and gap.

    ``summary`` is an evaluate ``summary.csv``; ``targets`` default to the project's
    (:data:`papseg_utils.results.study.CV_TARGETS`, HD95 in px).
    """
    rows = []
    s = summary.set_index(["scheme", "class", "metric"])
    for scheme, cls, metric, stat, goal in targets:
        key = (scheme, cls, metric)
        if key not in s.index:
            rows.append({"taxonomy": scheme, "target": f"{target_name(cls, metric)} ({stat})", "value": np.nan,
                         "low": np.nan, "high": np.nan, "goal": goal, "met": False, "gap": np.nan})  # fmt: skip
            continue
        r = s.loc[key]
        value = float(r[stat])
        low, high = (float(r["low"]), float(r["high"])) if stat == "mean" else (np.nan, np.nan)
        higher = metric in HIGHER_IS_BETTER
        met = value >= goal if higher else value <= goal
        rows.append({"taxonomy": scheme, "target": f"{target_name(cls, metric)} ({stat})", "value": value,
                     "low": low, "high": high, "goal": goal, "met": bool(met),
                     "gap": value - goal if higher else goal - value})  # fmt: skip
    return pd.DataFrame(rows)


def scoring_table(
    summaries: dict[str, pd.DataFrame],
    rows: Sequence[tuple[str, str, str]] = (
        ("herlev3", "nucleus", "dice"),
        ("herlev3", "cytoplasm", "dice"),
        ("herlev3", "macro", "iou"),
        ("herlev3", "nucleus", "hd95"),
        ("paper_cells", "healthy", "dice"),
        ("paper_cells", "unhealthy", "dice"),
    ),  # fmt: skip
) -> pd.DataFrame:
    """One column per scoring (``{label: summary}``), one row per (taxonomy, class, metric):
    ``mean [low, high]`` per image; HD95 rows add the median."""
    out = {}
    for name, summ in summaries.items():
        s = summ.set_index(["scheme", "class", "metric"])
        col = []
        for key in rows:
            if key not in s.index:
                col.append("")
                continue
            r = s.loc[key]
            text = f"{r['mean']:.3f} [{r['low']:.3f}, {r['high']:.3f}]"
            if key[2] == "hd95":
                text += f"; median {r['median']:.2f}"
            col.append(text)
        out[name] = col
    index = pd.MultiIndex.from_tuples(
        [(t, c, _name(m) + (" (px)" if m == "hd95" else "")) for t, c, m in rows],
        names=["taxonomy", "class", "metric"],
    )
    return pd.DataFrame(out, index=index)


def paired_gains(
    tables: dict[str, pd.DataFrame],
    pairs: Sequence[tuple[str, str, str]],
    keys: Sequence[tuple[str, str, str]] = (
        ("herlev3", "nucleus", "dice"),
        ("herlev3", "cytoplasm", "dice"),
        ("herlev3", "nucleus", "hd95"),
        ("paper_cells", "healthy", "dice"),
        ("paper_cells", "unhealthy", "dice"),
    ),  # fmt: skip
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired gains ``B - A`` on the images both scored, for each ``(name, A, B)`` of ``pairs``.

    ``tables`` maps a label to a per-image table of the evaluate command.
    Columns: the mean difference with its bootstrap 95 % interval over images,
    the median difference, the Wilcoxon signed-rank p-value and its Holm
    correction over all rows. A pair whose tables lack a key is skipped.
    """
    from ..metrics.stats import holm, paired_test

    rows = []
    rng = np.random.default_rng(seed)
    for name, a, b in pairs:
        for scheme, cls, metric in keys:
            vals = []
            for lab in (a, b):
                t = tables[lab]
                sel = t[(t.scheme == scheme) & (t["class"] == cls) & (t.metric == metric)]
                vals.append(sel.set_index("image")["value"])
            joined = pd.concat(vals, axis=1, keys=["a", "b"], join="inner").dropna()
            if joined.empty:
                continue
            d = (joined["b"] - joined["a"]).to_numpy()
            boots = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
            lo, hi = np.quantile(boots, [0.025, 0.975])
            test = paired_test(
                joined["a"].to_numpy(), joined["b"].to_numpy(), n_boot=200, seed=seed
            )
            rows.append({"comparison": name, "taxonomy": scheme, "class": cls, "metric": metric,
                         "n": int(d.size), "mean_a": float(joined["a"].mean()),
                         "mean_b": float(joined["b"].mean()), "mean_diff": float(d.mean()),
                         "low": float(lo), "high": float(hi), "median_diff": float(np.median(d)),
                         "p_value": test.p_value})  # fmt: skip
    columns = ["comparison", "taxonomy", "class", "metric", "n", "mean_a", "mean_b", "mean_diff",
               "low", "high", "median_diff", "p_value"]  # fmt: skip
    out = pd.DataFrame(rows, columns=columns)
    out["p_holm"] = holm(out["p_value"].fillna(1.0).to_numpy()) if len(out) else []
    return out


def by_group(
    per_image: pd.DataFrame, scheme: str = "herlev3", metric: str = "dice"
) -> pd.DataFrame:
    """Per-image mean of ``metric`` per diagnostic class (the folder part of the image name) and class."""
    t = per_image[(per_image.scheme == scheme) & (per_image.metric == metric)]
    t = t.assign(group=t["image"].str.split("/").str[0])
    table = t.pivot_table(index="group", columns="class", values="value", aggfunc="mean")
    table.insert(0, "images", t.groupby("group")["image"].nunique())
    return table
