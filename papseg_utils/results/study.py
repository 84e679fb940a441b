"""Study tables (see :mod:`papseg_utils.book.study`): loading, selecting, leaderboards, paired tests.

The targets the runs are checked against live in :mod:`papseg_utils.results.targets`.

A study folder holds ``runs.csv`` (one row per run), ``results.csv`` (one row per run x class x
metric x aggregation, with bootstrap 95 % intervals over images) and ``per_image.csv.gz`` (one
row per run x image x class x metric).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from papseg_utils.metrics.catalog import (
    PER_IMAGE_COLUMNS,
    check_columns,
    headline_metrics,
    higher_is_better,
)


def _family(architecture: str) -> str:
    """``"cnn"``, ``"transformer"`` or ``"hybrid"``, from the model registry (raises for an unknown name)."""
    from papseg_utils.models import architecture_family

    return architecture_family(architecture)


@dataclass
class StudyTables:
    """The three tables of a study folder."""

    runs: pd.DataFrame
    results: pd.DataFrame
    per_image: pd.DataFrame
    source: Path


def load_study(folder: str | Path) -> StudyTables:
    """Read ``runs.csv``, ``results.csv`` and ``per_image.csv.gz`` from ``folder``.

    Raises ``FileNotFoundError`` naming the missing file and how to make it. A relative
    ``folder`` that is not in the working folder is read from the repository root.
    """
    from papseg_utils.book.profiles import project_file

    folder = project_file(folder)
    missing = [
        n for n in ("runs.csv", "results.csv", "per_image.csv.gz") if not (folder / n).is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"{folder}: {', '.join(missing)} not found. Run a study first, e.g. "
            "`python -m papseg_utils study studies/herlev-cpu.yaml`, or point `results_dir` "
            "at a folder holding its tables."
        )
    results = pd.read_csv(folder / "results.csv")
    if "architecture" in results:
        results["family"] = [_family(a) for a in results["architecture"]]
    return StudyTables(
        runs=pd.read_csv(folder / "runs.csv"),
        results=results,
        per_image=check_columns(
            pd.read_csv(folder / "per_image.csv.gz"),
            ("run_id", *PER_IMAGE_COLUMNS),
            str(folder / "per_image.csv.gz"),
        ),
        source=folder,
    )


def select(results: pd.DataFrame, **where) -> pd.DataFrame:
    """Rows of ``results`` whose columns equal the given values (lists mean "any of")."""
    mask = pd.Series(True, index=results.index)
    for key, value in where.items():
        values = value if isinstance(value, list | tuple | set) else [value]
        mask &= results[key].isin(values)
    return results[mask]


def label(row: pd.Series | dict, extra: Sequence[str] = ()) -> str:
    """Short human-readable name of a run: architecture (encoder, weights), plus ``extra`` keys."""
    weights = "ImageNet" if row.get("pretrained") == "imagenet" else "scratch"
    if row.get("pretrained") not in ("imagenet", "none"):
        weights = str(row.get("pretrained"))
    encoder = str(row.get("encoder", "")).replace("tf_efficientnet_", "")
    parts = [f"{row.get('architecture')} ({encoder}, {weights})"]
    for key in extra:
        value = row.get(key)
        if key == "data_fraction":
            parts.append(f"{100 * float(value):g} % data")
        elif key == "seed":
            parts.append(f"seed {value}")
        elif key == "augmentation":
            parts.append(f"aug {value}")
        else:
            parts.append(str(value))
    return ", ".join(parts)


def varying(
    results: pd.DataFrame, keys: Sequence[str] = ("scheme", "augmentation", "data_fraction", "seed")
) -> list[str]:
    """The keys among ``keys`` that take more than one value in ``results``."""
    return [k for k in keys if k in results and results[k].nunique() > 1]


def leaderboard(
    results: pd.DataFrame,
    metrics: Sequence[str] = headline_metrics(),
    spacing_um: float | None = None,
    **where,
) -> pd.DataFrame:
    """One row per run, one column per class x metric: ``value [low, high]`` strings.

    Uses the per-image means (``aggregation == "image-mean"``) with their
    bootstrap 95 % intervals. Distances stored in um are also given in px
    when ``spacing_um`` is set. Rows are sorted by the mean foreground Dice.
    """
    sub = select(results, aggregation="image-mean", **where)
    sub = sub[sub["metric"].isin(metrics)]
    if sub.empty:
        return pd.DataFrame()
    rows = []
    for run_id, grp in sub.groupby("run_id", sort=False):
        first = grp.iloc[0]
        row = {"run": label(first), "family": _family(first["architecture"])}
        for key in ("scheme", "augmentation", "data_fraction", "seed"):
            if key in grp:
                row[key] = first[key]
        for rec in grp.to_dict("records"):
            key = f"{rec['class']} {rec['metric']}"
            digits = 3 if higher_is_better(rec["metric"]) else 2
            row[key] = _fmt(rec["value"], rec["ci_low"], rec["ci_high"], digits)
            if rec["unit"] == "um" and spacing_um:
                lo, mid, hi = (rec[k] / spacing_um for k in ("ci_low", "value", "ci_high"))
                row[f"{key} (px)"] = _fmt(mid, lo, hi, 2)
        dice = grp[grp.metric == "dice"]["value"]
        row["_sort"] = dice.mean() if len(dice) else np.nan
        row["run_id"] = run_id
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("_sort", ascending=False).drop(columns="_sort")
    return table.set_index("run").reset_index()


def _fmt(value: float, low: float, high: float, digits: int) -> str:
    """``"0.912 [0.900, 0.925]"`` with ``digits`` decimals; the value alone without an interval."""
    if np.isnan(low) or np.isnan(high):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def compact_board(
    results: pd.DataFrame,
    metrics: Sequence[str] = ("dice",),
    digits: int = 3,
    **where,
) -> pd.DataFrame:
    """Per-image means, one row per run, one column per (metric, class): a table that fits a page.

    The row label is :func:`label` plus only the keys that vary among the runs
    (:func:`varying`), so constant settings are not repeated on every row.
    Values are rounded to ``digits``; rows are sorted by the mean foreground
    Dice (the order of :func:`leaderboard`). Intervals are left to the figures
    (:func:`plot_leaderboard`) and the paired tests.
    """
    sub = select(results, aggregation="image-mean", **where)
    sub = sub[sub["metric"].isin(metrics)]
    if sub.empty:
        return pd.DataFrame()
    runs = sub.drop_duplicates("run_id").set_index("run_id")
    extra = varying(runs.reset_index())
    names = {r: label(row, extra) for r, row in runs.iterrows()}
    table = sub.pivot_table(index="run_id", columns=["metric", "class"], values="value")
    table = table.reindex(columns=[m for m in metrics if m in table.columns.levels[0]], level=0)
    dice = select(results, aggregation="image-mean", metric="dice", **where)
    order = dice.groupby("run_id")["value"].mean().reindex(table.index)
    table = table.loc[order.sort_values(ascending=False).index]
    table.index = pd.Index([names[r] for r in table.index], name="run")
    table.columns.names = [None, None]
    return table.round(digits)


def run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of a study, one short row each: what varies, the status if any failed, minutes.

    Columns: ``run`` (:func:`label`), then those of ``scheme``,
    ``augmentation``, ``data %``, ``epochs`` and ``seed`` that take more than
    one value, ``status`` and ``error`` only when some run is not done, and
    ``minutes`` of wall time.
    """
    t = runs.rename(columns=lambda c: c.removeprefix("param."))
    out = pd.DataFrame({"run": [label(r) for r in t.to_dict("records")]}, index=t.index)
    wanted = {"scheme": "scheme", "augmentation": "augmentation", "data_fraction": "data %",
              "num_epochs": "epochs", "seed": "seed"}  # fmt: skip
    for key, name in wanted.items():
        if key in t and t[key].nunique() > 1:
            out[name] = (100 * t[key]).map("{:g}".format) if key == "data_fraction" else t[key]
    if "status" in t and (t["status"] != "done").any():
        out["status"], out["error"] = t["status"], t.get("error", "")
    out["minutes"] = (t["wall_s"] / 60).round(1)
    return out.reset_index(drop=True)


def seed_summary(results: pd.DataFrame, by: Sequence[str], metric: str, cls: str) -> pd.DataFrame:
    """Mean over seeds of the per-run image-means, with the min and max over seeds.

    Returns columns ``*by, value, seed_min, seed_max, n_seeds, ci_low, ci_high``
    where the interval is the mean of the runs' bootstrap bounds (a rough band;
    the paired tests are the real comparison).
    """
    sub = select(results, aggregation="image-mean", metric=metric)
    sub = sub[sub["class"] == cls]
    out = (
        sub.groupby(list(by), sort=True)
        .agg(
            value=("value", "mean"),
            seed_min=("value", "min"),
            seed_max=("value", "max"),
            n_seeds=("value", "size"),
            ci_low=("ci_low", "mean"),
            ci_high=("ci_high", "mean"),
        )
        .reset_index()
    )
    return out


def per_image_values(
    per_image: pd.DataFrame,
    run_ids: Sequence[str],
    metric: str,
    cls: str,
    empty_as_perfect: bool = False,
) -> pd.Series:
    """Per-image values of ``metric`` for ``cls``, averaged over ``run_ids`` (e.g. seeds).

    Index: image name. Images where a run has NaN are dropped. With ``empty_as_perfect``, a
    run's ``both_empty`` value (a correct empty answer, NaN in the table) counts as the
    metric's perfect value (:func:`papseg_utils.metrics.catalog.perfect_value`) instead, and
    an image stays NaN only when every run is ``both_empty`` there (for
    :func:`paired_comparisons`, which drops an image only when both sides are).
    """
    from papseg_utils.metrics.catalog import average_runs

    sub = per_image[
        per_image["run_id"].isin(run_ids)
        & (per_image["metric"] == metric)
        & (per_image["class"] == cls)
    ]
    if not empty_as_perfect or "empty_case" not in sub:
        wide = sub.pivot_table(index="image", columns="run_id", values="value", aggfunc="first")
        return wide.dropna().mean(axis=1)
    # as above, an image counts only where every run has a value (a correct empty answer is one)
    gap = sub["value"].isna() & ~sub["empty_case"].eq("both_empty")
    runs = sub.groupby("image")["run_id"].nunique()
    complete = runs.index[
        (runs == sub["run_id"].nunique()) & ~runs.index.isin(sub.loc[gap, "image"])
    ]
    mean = average_runs(sub[sub["image"].isin(complete)], ["image"])  # via metrics.catalog
    return mean.set_index("image")["value"].sort_index()


def paired_comparisons(
    tables: StudyTables,
    pairs: Sequence[tuple[str, dict, dict]],
    metrics: Sequence[str] = ("dice",),
    classes: Sequence[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired comparisons of B against A on the same test images, Holm-corrected over all rows.

    ``pairs`` holds ``(name, where_a, where_b)``: each ``where`` selects runs
    (e.g. ``{"pretrained": "none", "data_fraction": 0.1}``); several runs (seeds)
    are averaged per image first (:func:`per_image_values`). Returns one row per pair x class
    x metric: ``comparison``, ``class``, ``metric``, then the columns of
    :func:`papseg_utils.metrics.stats.paired_differences` (``n`` images both selections
    scored, ``mean_a``, ``mean_b``, ``mean_diff`` = B - A with its bootstrap 95 % interval
    ``low``, ``high``, ``median_diff``, ``rank_biserial``, ``p_value``, ``p_holm``), and
    ``runs_a``, ``runs_b``: how many runs each side averages.
    """
    from papseg_utils.metrics.catalog import perfect_value
    from papseg_utils.metrics.stats import paired_differences

    unique_names(pairs)
    frames, runs = [], {}
    for name, where_a, where_b in pairs:
        runs_a = select(tables.results, **where_a)["run_id"].unique()
        runs_b = select(tables.results, **where_b)["run_id"].unique()
        if not len(runs_a) or not len(runs_b):
            raise ValueError(
                f"comparison {name!r}: no run matches {where_a if not len(runs_a) else where_b}"
            )
        runs[name] = (len(runs_a), len(runs_b))
        scheme_classes = select(tables.results, run_id=list(runs_a))["class"].unique()
        for cls in classes or scheme_classes:
            for metric in metrics:
                a, b = (per_image_values(tables.per_image, r, metric, cls, empty_as_perfect=True)
                        for r in (runs_a, runs_b))  # fmt: skip
                common = a.index.intersection(b.index)
                empty = a[common].isna() & b[common].isna()
                a, b = (side[common].fillna(perfect_value(metric)).mask(empty) for side in (a, b))
                frames.append(pd.DataFrame({"comparison": name, "class": cls, "metric": metric,
                                            "a": a, "b": b}))  # fmt: skip
    values = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["a", "b"])
    out = paired_differences(values, ["comparison", "class", "metric"], n_boot, seed=seed)
    out["runs_a"] = [runs[c][0] for c in out["comparison"]]
    out["runs_b"] = [runs[c][1] for c in out["comparison"]]
    return out


def unique_names(pairs: Sequence[tuple]) -> None:
    """``ValueError`` when two comparisons of ``pairs`` (``(name, ...)`` tuples) share a name."""
    names = [p[0] for p in pairs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"comparison names must be unique; given more than once: {twice}")


def metric_correlation(
    results: pd.DataFrame, a: str = "dice", b: str = "hd95", **where
) -> pd.DataFrame:
    """Pearson correlation of two metrics over runs, per class (per-image means).

    One point per run and class, as in :func:`plot_region_vs_boundary`.
    Returns columns ``class``, ``r`` and ``runs``.
    """
    sub = select(results, aggregation="image-mean", metric=[a, b], **where)
    wide = sub.pivot_table(index=["class", "run_id"], columns="metric", values="value")
    rows = [
        {"class": cls, "r": float(g[a].corr(g[b])), "runs": len(g)}
        for cls, g in wide.groupby(level="class")
    ]
    return pd.DataFrame(rows, columns=["class", "r", "runs"])


def best_run(results: pd.DataFrame, metric: str = "dice", **where) -> pd.Series:
    """The run with the highest mean foreground ``metric`` (per-image means) among ``where``."""
    sub = select(results, aggregation="image-mean", metric=metric, **where)
    if sub.empty:
        raise ValueError(f"no run matches {where}")
    scores = sub.groupby("run_id")["value"].mean()
    best = scores.idxmax() if higher_is_better(metric) else scores.idxmin()
    return sub[sub["run_id"] == best].iloc[0]


def format_tests(tests: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Readable copy of a :func:`paired_comparisons` table: numbers rounded, p-values as ``%.2g``."""
    out = tests.drop(columns=[c for c in ("runs_a", "runs_b") if c in tests])
    for col in out.columns:
        if col in ("p_value", "p_holm"):
            out[col] = out[col].map(lambda p: f"{p:.2g}")
        elif out[col].dtype.kind == "f":
            out[col] = out[col].round(digits)
    return out
